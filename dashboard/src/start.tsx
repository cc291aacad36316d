// React and the app, loaded by main.tsx once the session's restore has started.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";

export function start(root: HTMLElement): void {
  // For the overview benchmark's timeline (e2e/fleet-bench.mjs), as are the other `pga:` marks.
  performance.mark("pga:app-loaded");
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
