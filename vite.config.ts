/// <reference types="vitest/config" />
import vue from '@vitejs/plugin-vue';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { examplePacks } from './src/devserver/packs';
import { weightsServer } from './src/devserver/weights';
import { sandboxScripts } from './src/devserver/sandbox';
import { crossOriginIsolation } from './src/devserver/headers';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  // weightsServer: GET /__stylegraph/weights/NAME fetches a manifest checkpoint into the CLI's cache and serves it.
  // examplePacks: the packs package.json lists for the CLI, as packs.json and packs/NAME.js beside the page.
  // sandboxScripts: CORS for the run worker's scripts, fetched from the opaque-origin sandbox (origin null).
  plugins: [vue(), weightsServer(), examplePacks(here('.')), sandboxScripts()],
  root: here('./src'),
  // Presets and their sample images are served as they are: /gatys.json, /images/astronaut.jpg.
  publicDir: here('./presets'),
  build: { outDir: here('./dist'), emptyOutDir: true },
  // Cross-origin isolated (COOP + COEP), so tfjs-wasm runs threaded in the run worker: src/devserver/headers.ts.
  server: { fs: { allow: [here('.')] }, headers: { ...crossOriginIsolation } },
  preview: { headers: { ...crossOriginIsolation } },
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-backend-webgpu',
      // CommonJS files the run worker imports for threaded wasm (src/web/backend.ts).
      '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js',
      '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js',
    ],
  },
  test: {
    root: here('.'),
    // `npm run test:e2e` sets E2E=1: the browser tests against the built page.
    include: process.env.E2E ? ['tests/e2e/**/*.e2e.ts'] : ['tests/**/*.test.ts', 'examples/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
