// Dead-node elimination for built graphs.
import type { Graph, Node, Value } from '../ir/index.js';

/**
 * Drop the nodes of `g` that no graph output depends on (train-mode buffer
 * updates grad.onnx does not return, unused partial results of a backward
 * pass, placeholder VJPs of the forward-mode transform). With `subgraphs`,
 * Loop bodies and If branches are pruned first, each against its own outputs.
 *
 * @example pruneDeadNodes(grad.graph);
 */
export function pruneDeadNodes(g: Graph, options: { subgraphs?: boolean } = {}): void {
  if (options.subgraphs) for (const n of g.nodes) n.subgraphs().forEach((sub) => pruneDeadNodes(sub, options));
  const live = new Set<Value>(g.outputs);
  const keep = new Set<Node>();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => live.has(o))) continue;
    keep.add(n);
    for (const v of [...n.inputs, ...n.captures()]) if (v) live.add(v);
  }
  const kept = g.nodes.filter((n) => keep.has(n));
  g.nodes.splice(0, g.nodes.length, ...kept);
  // A cached constant whose node is gone must not be handed out again by g.constant.
  for (const [key, v] of [...g.memo]) if (v.source.kind === 'node' && !keep.has(v.source.node)) g.memo.delete(key);
}
