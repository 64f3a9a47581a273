"""The graph work of int8 quantisation: groups of nodes kept in float, and the GELU fusion.

:func:`exclusion_group` names the nodes of one of :data:`EXCLUSION_STAGES`, the cumulative
groups :func:`~litedepth.export.quantize.quantize_model` keeps in float one stage at a time
until the int8 graph is close enough to float32: the input convolution (the first one reading
the image), the output head (the last convolutions or matrix products before the output), the
stem (every one reading the input image), attention products (next to a Softmax), decoder
convolutions (node names containing ``/decoder/``, else every node outside ``/encoder/``),
every matrix product. :func:`fuse_gelu` turns the exported five-node erf GELU into one
``Gelu`` node before quantisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from litedepth.errors import ConfigError

__all__ = ["EXCLUSION_STAGES", "exclusion_group", "fuse_gelu"]

#: cumulative groups of nodes kept in float, in the order they are tried
EXCLUSION_STAGES = ("input", "head", "stem", "attention", "decoder", "matmul")
_QUANT_OPS = ("Conv", "MatMul")


def _graph_maps(graph: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return producer, consumers


def _nearest_quantisable(start: Sequence[str], step: Callable[[Any], list[str]], first: Callable[[str], list[Any]],
                         limit: int = 12) -> list[str]:
    """Names of the first Conv / MatMul nodes met walking the graph from tensors ``start``."""
    found: list[str] = []
    frontier, seen = list(start), set()
    for _ in range(limit):
        nxt: list[str] = []
        for tensor in frontier:
            for node in first(tensor):
                if node.name in seen:
                    continue
                seen.add(node.name)
                if node.op_type in _QUANT_OPS:
                    found.append(node.name)
                else:
                    nxt.extend(step(node))
        if not nxt:
            break
        frontier = nxt
    return found


def exclusion_group(proto: Any, stage: str) -> list[str]:
    """Node names of one of :data:`EXCLUSION_STAGES` in ``proto``'s graph."""
    graph = proto.graph
    producer, consumers = _graph_maps(graph)
    if stage == "head":
        return _nearest_quantisable([o.name for o in graph.output], lambda n: list(n.input),
                                    lambda t: [producer[t]] if t in producer else [])
    if stage in ("stem", "input"):
        found = _nearest_quantisable([i.name for i in graph.input], lambda n: list(n.output),
                                     lambda t: consumers.get(t, []))
        if stage == "stem":
            return found
        order = {n.name: i for i, n in enumerate(graph.node)}
        return sorted(found, key=order.__getitem__)[:1]
    if stage == "attention":
        out: list[str] = []
        for node in graph.node:
            if node.op_type != "Softmax":
                continue
            out += _nearest_quantisable(list(node.input), lambda n: list(n.input),
                                        lambda t: [producer[t]] if t in producer else [], limit=3)
            out += _nearest_quantisable(list(node.output), lambda n: list(n.output),
                                        lambda t: consumers.get(t, []), limit=3)
        return out
    if stage == "decoder":
        quantisable = [n.name for n in graph.node if n.op_type in _QUANT_OPS]
        named = [n for n in quantisable if "/decoder/" in n]
        if named or not any("/encoder/" in n for n in quantisable):
            return named
        return [n for n in quantisable if "/encoder/" not in n]  # scopes lost in export: not the encoder
    if stage == "matmul":
        return [n.name for n in graph.node if n.op_type == "MatMul"]
    raise ConfigError(f"unknown exclusion stage {stage!r}; known: {EXCLUSION_STAGES}")


_SQRT2 = 1.4142135623730951


def _constant_value(name: str, constants: dict[str, Any], initializers: dict[str, Any]) -> float | None:
    from onnx import numpy_helper

    if name in constants:
        arr = numpy_helper.to_array(constants[name].attribute[0].t)
    elif name in initializers:
        arr = numpy_helper.to_array(initializers[name])
    else:
        return None
    return float(arr.reshape(-1)[0]) if arr.size == 1 else None


def fuse_gelu(proto: Any) -> tuple[Any, int]:
    """Replace the exported erf GELU ``0.5 * x * (1 + erf(x / sqrt(2)))`` (five nodes) by one
    onnxruntime ``Gelu`` node (``com.microsoft``, the same erf formula).

    onnxruntime fuses this pattern itself in float graphs, but not once quantisation nodes
    surround it; fused first, it stays one kernel in the int8 graph. Returns ``(copy, count)``.
    """
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    producer, consumers = _graph_maps(graph)
    constants = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}
    inits = {t.name: t for t in graph.initializer}

    def value(name: str) -> float | None:
        return _constant_value(name, constants, inits)

    def only(tensor: str, op: str) -> Any | None:
        users = consumers.get(tensor, [])
        return users[0] if len(users) == 1 and users[0].op_type == op else None

    remove, new_nodes = set(), {}
    for erf in [n for n in graph.node if n.op_type == "Erf"]:
        div = producer.get(erf.input[0])
        if div is None or div.op_type != "Div" or value(div.input[1]) is None or abs(value(div.input[1]) - _SQRT2) > 1e-5:
            continue
        x = div.input[0]
        add = only(erf.output[0], "Add")
        if add is None or value(next(i for i in add.input if i != erf.output[0])) != 1.0:
            continue
        mul = only(add.output[0], "Mul")
        if mul is None or x not in mul.input:
            continue
        half = only(mul.output[0], "Mul")
        if half is None or value(next((i for i in half.input if i != mul.output[0]), "")) != 0.5:
            continue
        if len(consumers.get(div.output[0], [])) != 1:
            continue
        remove.update(id(n) for n in (div, erf, add, mul, half))
        new_nodes[id(half)] = onnx.helper.make_node("Gelu", [x], [half.output[0]], name=f"{half.name}_gelu",
                                                    domain="com.microsoft")
    if not new_nodes:
        return model, 0
    kept = []
    for n in graph.node:
        if id(n) in new_nodes:
            kept.append(new_nodes[id(n)])
        elif id(n) not in remove:
            kept.append(n)
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in graph.node for i in n.input}
    unused = [n for n in graph.node if n.op_type == "Constant" and n.output[0] not in used]
    for n in unused:
        graph.node.remove(n)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    # the calibrator only collects ranges of tensors with a known type: declare the new outputs
    typed = {v.name for v in graph.value_info}
    for node in new_nodes.values():
        if node.output[0] not in typed:
            graph.value_info.append(onnx.helper.make_tensor_value_info(node.output[0], onnx.TensorProto.FLOAT, None))
    return model, len(new_nodes)
