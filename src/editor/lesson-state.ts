import { ref } from 'vue';

/** GFLOP/s that finished runs reached, by backend: lessons estimate what a run costs from them. Kept while the page lives. */
export const measuredThroughput = ref(new Map<string, number>());
/** Lessons whose step count was fitted to a classroom, as "file|backend|size": each once, so the class can raise it again. */
export const fittedLessons = new Set<string>();
