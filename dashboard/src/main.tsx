// The page's first script, kept small: it starts restoring the session and, on the home page,
// the overview's one request, then loads React and the app (a separate script) while those
// requests run. Before this split the session's refresh waited for the whole bundle to be parsed
// and run (about 140 ms of every page load on this project's 2-core benchmark machine).
import { resume } from "./api/client";
import { prefetchFleet } from "./pages/fleetLoad";
import { match } from "./router";
import "./styles.css";

void resume().then((ok) => {
  performance.mark("pga:resumed");
  // Every role's home page is the overview; any other page loads its own data.
  if (ok && match("/", window.location.hash.slice(1)) !== null) prefetchFleet();
});

const root = document.getElementById("root")!;
import("./start").then(
  ({ start }) => start(root),
  () => {
    // The app's script did not arrive (the server restarted with a new build, or the network):
    // say so rather than leave a blank page.
    root.innerHTML = '<p class="error" role="alert">The dashboard could not be loaded. Reload the page.</p>';
  },
);
