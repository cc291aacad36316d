//! `GET /events` (viewer): server-sent events, one `change` event per projection change
//! (`{"kind": "collector" | "managed_instance" | …, "id": …}`), so a dashboard updates
//! "last heartbeat" and status badges without reloading.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::state::AppState;

pub(crate) async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.changes.subscribe();
    let ready = futures::stream::once(async { Ok(Event::default().event("ready").data("{}")) });
    // Dropped with the response when the browser goes away.
    let changes = futures::stream::unfold(receiver, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(change) => Event::default().event("change").data(change),
            // Fell behind: the page reloads its lists once.
            Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), rx))
    });
    // Ends at shutdown, or graceful shutdown would wait for every open dashboard forever.
    let stop = state.shutdown.clone().cancelled_owned();
    Sse::new(ready.chain(changes).take_until(stop))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
