// The browser SDK runs libxmtp as WebAssembly in a module worker: vite must not pre-bundle the two @xmtp
// packages (the worker and the .wasm are resolved relative to their own files) and must emit ES workers.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  optimizeDeps: { exclude: ["@xmtp/browser-sdk", "@xmtp/wasm-bindings"] },
  worker: { format: "es" },
  build: { target: "esnext", outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 20000 },
});
