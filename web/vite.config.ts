import { fileURLToPath, URL } from 'node:url';
import { defineConfig } from 'vitest/config';

// The app is served by `aragora serve` from the same origin as the API, so the dev server
// proxies the API and WebSocket to a running server (ARAGORA_URL, default :8080).
const target = process.env.ARAGORA_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline scripts: the app's CSP is script-src 'self'.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      '/api': target,
      '/.well-known': target,
      '/ws': { target: target.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
