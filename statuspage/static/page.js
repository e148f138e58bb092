/* Progressive enhancement of the public pages; everything works without it.
   - Times are shown in the visitor's own zone; the page's zone stays in the title.
   - Component groups remember whether the visitor opened or closed them.
   - Uptime bars of quiet days get their tooltip (days in trouble have it from the server). */
(function () {
  "use strict";

  var section = document.querySelector("[data-first-day]");
  if (section) {
    var first = new Date(section.getAttribute("data-first-day") + "T00:00:00Z");
    var dayFormat = new Intl.DateTimeFormat(document.documentElement.lang || "en", {
      year: "numeric", month: "short", day: "numeric", timeZone: "UTC"
    });
    var quiet = section.getAttribute("data-operational");
    var none = section.getAttribute("data-no-data");
    section.querySelectorAll(".uptime-bars").forEach(function (bars) {
      Array.prototype.forEach.call(bars.children, function (bar, index) {
        if (bar.title) { return; }
        var day = new Date(first.getTime() + index * 86400000);
        bar.title = dayFormat.format(day) + ": " + (bar.className === "n" ? none : quiet);
      });
    });
  }

  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });

  // Only instants (with a time part); day and month headings stay in the page's calendar.
  document.querySelectorAll("time[datetime*='T']").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) { return; }
    el.title = el.textContent.trim();
    el.textContent = format.format(when);
    el.classList.add("local-time");
  });

  var KEY = "statuspage.groups";
  var remembered = {};
  try { remembered = JSON.parse(window.localStorage.getItem(KEY)) || {}; } catch (e) { /* private mode */ }

  document.querySelectorAll("details[data-group-id]").forEach(function (el) {
    var id = el.getAttribute("data-group-id");
    // A group in trouble opens whatever was remembered, so an outage is never tucked away.
    if (Object.prototype.hasOwnProperty.call(remembered, id) &&
        el.getAttribute("data-status") === "operational") {
      el.open = remembered[id];
    }
    el.addEventListener("toggle", function () {
      remembered[id] = el.open;
      try { window.localStorage.setItem(KEY, JSON.stringify(remembered)); } catch (e) { /* full or off */ }
    });
  });
})();
