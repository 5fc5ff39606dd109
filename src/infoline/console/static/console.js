// Live updates: the server sends a "changed" event when cases change; every element with
// data-live="URL" is re-fetched (server-rendered, already escaped HTML), and the title
// shows how many cases wait, urgent ones first. No other script runs in the console.
"use strict";
(function () {
  const live = document.querySelectorAll("[data-live]");
  if (!live.length || !window.EventSource) return;
  const baseTitle = document.title;
  let urgentBefore = null;

  function beep() {
    try {
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.25);
    } catch (e) { /* a browser without sound or before any click: the colour is enough */ }
  }

  async function refresh(element, changed) {
    const only = element.dataset.liveCase;
    if (only && changed.indexOf(Number(only)) < 0) return;
    const response = await fetch(element.dataset.live, { credentials: "same-origin" });
    if (response.status === 401) { window.location.reload(); return; }
    if (response.ok) element.innerHTML = await response.text();
  }

  const source = new EventSource("/events");
  source.addEventListener("changed", function (event) {
    const data = JSON.parse(event.data);
    live.forEach(function (element) { refresh(element, data.cases); });
    const prefix = data.urgent ? "(" + data.urgent + "!) " : data.waiting ? "(" + data.waiting + ") " : "";
    document.title = prefix + baseTitle;
    if (urgentBefore !== null && data.urgent > urgentBefore) beep();
    urgentBefore = data.urgent;
  });
})();
