import { z } from 'zod';
import type { Plan } from '../compiler/plan';
import type { NodeRegistry } from '../plugin/registry';
import type { GraphModel } from '../graph/model';

/**
 * A lesson, written in a preset's metadata: the nodes to step through with a short explanation each, and the
 * few parameters a class should see as sliders. Without steps the lesson walks the plan in execution order,
 * explaining each node with its type's description.
 */
const zLesson = z.object({
  steps: z.array(z.object({ node: z.string(), text: z.string().max(2000) })).max(100).optional(),
  expose: z.array(z.object({ node: z.string(), param: z.string(), label: z.string().max(200).optional() })).max(20).default([]),
});

export interface LessonStep {
  node: string;
  title: string;
  text: string;
}

export interface Lesson {
  steps: LessonStep[];
  expose: { node: string; param: string; label: string }[];
  /** Why the written lesson was not used, if it could not be read. */
  problem?: string;
}

export function lessonOf(model: GraphModel, registry: NodeRegistry, plan: Plan | null): Lesson {
  const parsed = zLesson.safeParse(model.metadata.lesson ?? {});
  const lesson = parsed.success ? parsed.data : { expose: [] };
  const byId = new Map(model.nodes.map((n) => [n.id, n]));
  const title = (id: string) => {
    const n = byId.get(id)!;
    return n.title ?? registry.get(n.type)?.title ?? n.type;
  };
  const written = (lesson.steps ?? []).filter((s) => byId.has(s.node));
  const steps: LessonStep[] = written.length
    ? written.map((s) => ({ node: s.node, title: title(s.node), text: s.text }))
    : [...new Set((plan?.steps ?? []).flatMap((s) => s.nodes))].map((id) => ({
        node: id, title: title(id), text: registry.get(byId.get(id)!.type)?.description ?? '',
      }));
  const expose = lesson.expose
    .filter((x) => byId.has(x.node) && registry.get(byId.get(x.node)!.type)?.params[x.param])
    .map((x) => ({ node: x.node, param: x.param, label: x.label ?? `${title(x.node)}: ${x.param}` }));
  return { steps, expose, ...(parsed.success ? {} : { problem: `the lesson in this graph could not be read: ${parsed.error.issues[0]?.message}` }) };
}
