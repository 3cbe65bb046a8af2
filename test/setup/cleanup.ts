// setupFiles entry: registers the file-level clean-up hook at the top level of every test file.
import { afterAll } from 'vitest';
import { runFileCleanups } from '../helpers/cleanup.ts';

afterAll(runFileCleanups);
