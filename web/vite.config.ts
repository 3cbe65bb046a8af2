import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// Served by the Tenantry server under /app/ (src/http/web-app.ts). `npm run web:dev` proxies the API to
// a server on :8000 so the dev server and the API share an origin, as in production.
const api = [
  '/auth',
  '/users',
  '/roles',
  '/groups',
  '/settings',
  '/lists',
  '/tasks',
  '/comments',
  '/tags',
  '/cc',
];

export default defineConfig({
  root: import.meta.dirname,
  base: '/app/',
  plugins: [vue()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { proxy: Object.fromEntries(api.map((path) => [path, 'http://127.0.0.1:8000'])) },
});
