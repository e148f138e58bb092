// Keeps the "Subscribers this would reach" count of an incident form current as ops pick
// components. Without JavaScript the count rendered with the page stays.
(function () {
  "use strict";
  const note = document.querySelector("[data-reach-url]");
  if (!note) return;
  const form = note.closest("form");
  const count = note.querySelector("[data-reach]");
  const channels = note.querySelector("[data-reach-channels]");
  const announced = (note.dataset.announced || "").split(",").filter(Boolean);
  const prefix = "component-";
  let pending = null;

  function refresh() {
    const ids = new Set(announced);
    form.querySelectorAll(`select[name^="${prefix}"]`).forEach((select) => {
      if (select.value) ids.add(select.name.slice(prefix.length));
    });
    const query = new URLSearchParams();
    ids.forEach((id) => query.append("component", id));
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(`${note.dataset.reachUrl}?${query}`, {
      credentials: "same-origin", headers: {Accept: "application/json"}, signal: pending.signal,
    })
      .then((response) => (response.ok ? response.json() : Promise.reject(response)))
      .then((data) => {
        count.textContent = data.reach;
        if (channels && data.channels) {
          channels.textContent = "(" + Object.entries(data.channels)
            .map(([channel, n]) => `${channel} ${n}`).join(", ") + ")";
        }
      })
      .catch(() => {});  // keep the last known count
  }

  form.addEventListener("change", (event) => {
    if (event.target.matches(`select[name^="${prefix}"]`)) refresh();
  });
})();
