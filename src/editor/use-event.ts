import { onBeforeUnmount, onMounted } from 'vue';

/** Adds a listener while the component is mounted. */
export function useEventListener<K extends keyof WindowEventMap>(
  target: Window,
  type: K,
  listener: (e: WindowEventMap[K]) => void,
) {
  onMounted(() => target.addEventListener(type, listener));
  onBeforeUnmount(() => target.removeEventListener(type, listener));
}
