import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

// Two pages, each its own entry: the console (`/`) and the subscriber portal (`/portal`).
// Everything is emitted as files under dist/ui: no inline script or style, so the strict
// Content-Security-Policy of registry/ui-serve.ts holds.
export default defineConfig({
  root: here,
  base: '/',
  plugins: [preact({ devToolsEnabled: false, prerender: { enabled: false } })],
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui', import.meta.url)),
    emptyOutDir: true,
    manifest: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    rollupOptions: {
      output: {
        chunkFileNames: 'assets/shared-[hash].js',
        // The stylesheet is shared by both pages: named for what it is, not for a chunk.
        assetFileNames: (a) =>
          a.names.some((n) => n.endsWith('.css'))
            ? 'assets/styles-[hash][extname]'
            : 'assets/[name]-[hash][extname]',
      },
      input: {
        console: fileURLToPath(new URL('index.html', import.meta.url)),
        portal: fileURLToPath(new URL('portal.html', import.meta.url)),
      },
    },
  },
  // `npx vite --config registry/ui/vite.config.ts`: the UI with hot reload, the API of a
  // registry running on its default address behind it.
  server: {
    host: '127.0.0.1',
    proxy: { '/v1': process.env.HOOKLINE_URL ?? 'http://127.0.0.1:8080' },
  },
});
