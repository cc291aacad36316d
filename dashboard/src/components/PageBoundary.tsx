// Keeps one page's failure to that page: a page whose script cannot be loaded (the server was
// upgraded while this tab was open, or the network dropped) or that fails while drawing shows
// what happened and a way out, and the header and navigation stay usable. Going to another path
// (`at`) draws afresh; a page whose script failed to load twice needs the reload it offers.
import { Component, type ReactNode } from "react";

interface State { error: string | null }

export class PageBoundary extends Component<{ at: string; children: ReactNode }, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error.message : String(error) };
  }

  componentDidUpdate(before: { at: string }) {
    if (before.at !== this.props.at && this.state.error !== null) this.setState({ error: null });
  }

  render() {
    if (this.state.error === null) return this.props.children;
    return (
      <div className="card">
        <p className="error" role="alert">
          This page could not be shown ({this.state.error}). If the dashboard was upgraded while it was open, reloading loads the new version.
        </p>
        <button onClick={() => window.location.reload()}>Reload</button>
      </div>
    );
  }
}
