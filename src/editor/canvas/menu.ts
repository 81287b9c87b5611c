/** One action of the canvas's right-click menu (a node's or a wire's). */
export interface MenuAction {
  label: string;
  key: string;
  run(): void;
}

/** What the canvas asks the menu for: node types to add at a point (right-click on the canvas), or a list of actions. */
export interface MenuRequest {
  clientX: number;
  clientY: number;
  /** Right-click on the canvas: node types, searchable; `add` puts the chosen one there. */
  add?: (type: string) => void;
  actions: MenuAction[];
}
