/**
 * One form's or page's request state: `busy` while a call runs, `error` (an ApiError: title, detail,
 * field errors) when it failed. `run` returns undefined on failure so callers only handle success.
 */
import { ref } from 'vue';
import { ApiError } from './problem.ts';

export function useAction() {
  const busy = ref(false);
  const error = ref<ApiError | null>(null);
  async function run<T>(work: () => Promise<T>): Promise<T | undefined> {
    busy.value = true;
    error.value = null;
    try {
      return await work();
    } catch (caught) {
      error.value =
        caught instanceof ApiError
          ? caught
          : new ApiError({ title: 'Something went wrong', status: 0, detail: String(caught) });
      return undefined;
    } finally {
      busy.value = false;
    }
  }
  return { busy, error, run };
}
