import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a server on :4000; the build goes to dist/, which the
// pgAnalytics server serves at `/`.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 400 },
  server: { proxy: { "/api": "http://127.0.0.1:4000" } },
});
