import { ClassicPreset } from 'rete';
import type { ViewEdge, ViewNode } from '../view';

/** A rete node that carries the view node it draws; everything else is read from the stores. */
export class CanvasNode extends ClassicPreset.Node {
  width = 220;
  height = 120;
  constructor(public view: ViewNode) {
    super(view.title);
    this.id = view.id;
    for (const s of view.inputs)
      this.addInput(s.key, new ClassicPreset.Input(new ClassicPreset.Socket(s.type ?? 'missing'), s.label, s.multiple));
    for (const s of view.outputs)
      this.addOutput(s.key, new ClassicPreset.Output(new ClassicPreset.Socket(s.type ?? 'missing'), s.label));
    this.height = 64 + 24 * Math.max(view.inputs.length, view.outputs.length);
  }
}
export class CanvasConnection extends ClassicPreset.Connection<CanvasNode, CanvasNode> {
  constructor(
    a: CanvasNode,
    public edge: ViewEdge,
    b: CanvasNode,
  ) {
    super(a, edge.from.socket, b, edge.to.socket);
    this.id = edge.id;
  }
}
