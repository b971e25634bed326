// Build frontend/ into ../static/dist with Vite's manifest (static/dist/.vite/manifest.json).
// Pass the public URL of static/dist/ as --base: flask cloudcollect url static dist/
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

export default {
  root: here + "frontend",
  logLevel: "warn",
  build: {
    outDir: here + "static/dist",
    emptyOutDir: true,
    manifest: true,
    assetsInlineLimit: 0, // the image stays a file, so it is published and loaded
    rollupOptions: { input: here + "frontend/src/main.js" },
  },
};
