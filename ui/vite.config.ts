import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// Built into dist/ui with the daemon (npm run build); the daemon serves it at /ui and needs nothing at run time.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
})
