// neutrino's only script. Every page works without it; it adds two things:
// - live updates of the topology page: it long-polls /ui/topology/changes?since=REVISION;
//   when the change log moves past the revision the picture was drawn at, it fetches the
//   page's SVG again and swaps it in;
// - a job's progress page moves its bar in place (polling /ui/jobs/ID/state) instead of
//   refreshing the whole page each second, and reloads it once when the job is over.
"use strict";

(function () {
  const figure = document.getElementById("topology");
  if (!figure) return;
  const state = document.getElementById("live-state");
  const page = figure.dataset.page || "1";
  let stopped = false;
  window.addEventListener("pagehide", () => { stopped = true; });

  function revision() {
    const svg = document.getElementById("topology-svg");
    return svg ? svg.dataset.revision : "0";
  }

  function say(text) { if (state) state.textContent = text; }

  async function refresh() {
    const r = await fetch("/ui/topology/svg?page=" + encodeURIComponent(page),
                          {credentials: "same-origin", cache: "no-store"});
    if (!r.ok) throw new Error("topology " + r.status);
    figure.innerHTML = await r.text();
  }

  async function loop() {
    say("Live: updates appear as they happen.");
    let pause = 0;
    while (!stopped) {
      try {
        const r = await fetch("/ui/topology/changes?since=" + revision(),
                              {credentials: "same-origin", cache: "no-store"});
        if (r.redirected || !r.ok) { say("Live updates stopped: reload the page."); return; }
        const body = await r.json();
        if (String(body.revision) !== revision()) await refresh();
        pause = 0;
      } catch (e) {
        if (stopped) return;
        pause = Math.min(pause * 2 || 500, 15000);  // the server restarted: back off
        say("Live updates paused, retrying.");
        await new Promise((done) => setTimeout(done, pause));
      }
    }
  }
  loop();
})();

(function () {
  const section = document.getElementById("job");
  if (!section || section.dataset.finished === "yes") return;
  const bar = document.getElementById("job-progress");
  const count = document.getElementById("job-count");
  const url = "/ui/jobs/" + encodeURIComponent(section.dataset.job) + "/state";

  async function follow() {
    for (;;) {
      await new Promise((done) => setTimeout(done, 250));
      let body;
      try {
        const r = await fetch(url, {credentials: "same-origin", cache: "no-store"});
        if (r.redirected || !r.ok) { window.location.reload(); return; }
        body = await r.json();
      } catch (e) {
        continue;  // the server is busy or restarting: try again
      }
      const moved = body.done + body.failed;
      bar.value = moved;
      if (count) count.textContent = moved + " of " + body.total;
      if (body.finished) { window.location.reload(); return; }
    }
  }
  follow();
})();
