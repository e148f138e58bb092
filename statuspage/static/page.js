/* Progressive enhancement of the public pages; everything reads without it.
   - Times stay in the page's zone; a button shows them in the visitor's own zone instead.
   - Component groups remember whether the visitor opened or closed them.
   - A day of the uptime bars opens its detail on click, tap or keyboard (arrows, Enter).
   - The subscribe control closes on Escape or a click elsewhere. */
(function () {
  "use strict";

  var store = {
    get: function (key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } },
    set: function (key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* off */ } }
  };
  var lang = document.documentElement.lang || "en";

  /* --- times: the page's zone, or the visitor's on request --------------------------------- */

  var toggle = document.querySelector("[data-time-toggle]");
  var instants = document.querySelectorAll("time[datetime*='T']");
  var localFormat = new Intl.DateTimeFormat(lang, {
    year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit",
    hour12: false, timeZoneName: "short"
  });

  function showTimes(local) {
    instants.forEach(function (el) {
      if (!el.hasAttribute("data-page-time")) { el.setAttribute("data-page-time", el.textContent); }
      var when = new Date(el.getAttribute("datetime"));
      el.textContent = local && !isNaN(when.getTime()) ? localFormat.format(when)
        : el.getAttribute("data-page-time");
    });
    if (toggle) {
      toggle.textContent = toggle.getAttribute(local ? "data-page-label" : "data-local-label");
      toggle.setAttribute("aria-pressed", local ? "true" : "false");
    }
  }

  if (toggle && instants.length) {
    toggle.hidden = false;
    var local = store.get("statuspage.local-time") === "1";
    if (local) { showTimes(true); }
    toggle.addEventListener("click", function () {
      local = !local;
      store.set("statuspage.local-time", local ? "1" : "0");
      showTimes(local);
    });
  }

  /* --- groups the visitor opened or closed -------------------------------------------------- */

  var KEY = "statuspage.groups";
  var remembered = {};
  try { remembered = JSON.parse(store.get(KEY)) || {}; } catch (e) { remembered = {}; }
  document.querySelectorAll("details[data-group-id]").forEach(function (el) {
    var id = el.getAttribute("data-group-id");
    // A group in trouble opens whatever was remembered, so an outage is never tucked away.
    if (Object.prototype.hasOwnProperty.call(remembered, id) &&
        el.getAttribute("data-status") === "operational") {
      el.open = remembered[id];
    }
    el.addEventListener("toggle", function () {
      remembered[id] = el.open;
      store.set(KEY, JSON.stringify(remembered));
    });
  });

  /* --- the subscribe control ------------------------------------------------------------------ */

  var follow = document.querySelector("details.follow");
  if (follow) {
    document.addEventListener("click", function (event) {
      if (follow.open && !follow.contains(event.target)) { follow.open = false; }
    });
    follow.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && follow.open) {
        follow.open = false;
        follow.querySelector("summary").focus();
      }
    });
  }

  /* --- a day of the uptime bars ---------------------------------------------------------------- */

  var section = document.querySelector("[data-uptime-words]");
  if (!section) { return; }
  var words = JSON.parse(section.getAttribute("data-uptime-words"));
  var dayFormat = new Intl.DateTimeFormat(lang, { year: "numeric", month: "long", day: "numeric",
                                                  timeZone: "UTC" });
  var firstDay = Date.parse(section.getAttribute("data-first-day") + "T00:00:00Z");

  function visible(bars) {
    return bars.filter(function (bar) { return bar.offsetParent !== null; });
  }

  function describe(bar, index) {
    var day = dayFormat.format(new Date(firstDay + index * 86400000));
    if (bar.classList.contains("n")) { return { day: day, status: words.nodata }; }
    return {
      day: day,
      status: words.statuses[bar.classList[0]] || words.operational,
      uptime: bar.hasAttribute("data-u") ? words.uptime.replace("{}", bar.getAttribute("data-u"))
                                          : words.full,
      outage: bar.getAttribute("data-o") || "",
      // [name, id] pairs; the link is the incident URL's two parts around the id.
      incidents: JSON.parse(bar.getAttribute("data-i") || "[]").map(function (item) {
        return [item[0], words.incident[0] + item[1] + words.incident[1]];
      })
    };
  }

  function text(tag, content) {
    var el = document.createElement(tag);
    el.textContent = content;
    return el;
  }

  function render(panel, facts) {
    panel.textContent = "";
    panel.appendChild(text("h4", facts.day));
    panel.appendChild(text("p", facts.uptime ? facts.status + " · " + facts.uptime : facts.status));
    if (facts.outage) { panel.appendChild(text("p", facts.outage)); }
    if (facts.incidents) {
      if (facts.incidents.length) {
        var list = document.createElement("ul");
        facts.incidents.forEach(function (item) {
          var entry = document.createElement("li");
          var link = text("a", item[0]);
          link.href = item[1];
          entry.appendChild(link);
          list.appendChild(entry);
        });
        panel.appendChild(list);
      } else {
        panel.appendChild(text("p", words.noincidents));
      }
    }
    var close = text("button", words.close);
    close.type = "button";
    close.className = "day-close";
    panel.appendChild(close);
  }

  // Days with something to tell carry their tooltip from the server; the quiet ones (and those
  // without data) get theirs here, so that the page stays light.
  var titleFormat = new Intl.DateTimeFormat(lang, { year: "numeric", month: "short",
                                                    day: "numeric", timeZone: "UTC" });

  document.querySelectorAll(".uptime-bars").forEach(function (strip) {
    var bars = Array.prototype.slice.call(strip.children);
    bars.forEach(function (bar, index) {
      if (bar.title) { return; }
      var day = titleFormat.format(new Date(firstDay + index * 86400000));
      bar.title = day + ": " + (bar.classList.contains("n") ? words.nodata
                                : words.operational + ", " + words.full);
    });
    var chosen = -1;
    var panel = document.createElement("div");
    panel.className = "day-detail";
    panel.hidden = true;
    panel.setAttribute("role", "region");
    panel.setAttribute("aria-live", "polite");
    panel.setAttribute("aria-label", strip.getAttribute("data-name"));
    strip.parentNode.insertBefore(panel, strip.nextSibling);

    strip.setAttribute("role", "slider");
    strip.setAttribute("tabindex", "0");
    strip.setAttribute("aria-label", strip.getAttribute("data-label"));
    strip.setAttribute("aria-valuemin", "1");
    strip.setAttribute("aria-valuemax", String(bars.length));
    strip.removeAttribute("title");

    function announce(index) {
      var facts = describe(bars[index], index);
      strip.setAttribute("aria-valuenow", String(index + 1));
      strip.setAttribute("aria-valuetext", facts.day + ": " + facts.status +
                         (facts.uptime ? ", " + facts.uptime : ""));
      return facts;
    }

    function choose(index, open) {
      if (chosen >= 0) { bars[chosen].classList.remove("chosen"); }
      chosen = index;
      bars[index].classList.add("chosen");
      var facts = announce(index);
      if (open) {
        render(panel, facts);
        panel.hidden = false;
      }
    }

    function shut() {
      panel.hidden = true;
      if (chosen >= 0) { bars[chosen].classList.remove("chosen"); }
      chosen = -1;
      announce(bars.length - 1);  // a slider always has a value: today until one is chosen
    }

    announce(bars.length - 1);

    strip.addEventListener("click", function (event) {
      var index = bars.indexOf(event.target);
      if (index >= 0 && !bars[index].classList.contains("n")) { choose(index, true); }
    });
    strip.addEventListener("keydown", function (event) {
      var shown = visible(bars);
      // Until a day is chosen, the slider stands on today.
      var at = chosen < 0 ? shown.length - 1 : shown.indexOf(bars[chosen]);
      var next = null;
      if (event.key === "ArrowLeft" || event.key === "ArrowDown") { next = Math.max(at - 1, 0); }
      else if (event.key === "ArrowRight" || event.key === "ArrowUp") {
        next = Math.min(at + 1, shown.length - 1);
      }
      else if (event.key === "Home") { next = 0; }
      else if (event.key === "End") { next = shown.length - 1; }
      else if (event.key === "Enter" || event.key === " ") { next = at; }
      else if (event.key === "Escape") { shut(); return; }
      if (next === null) { return; }
      event.preventDefault();
      choose(bars.indexOf(shown[next]), true);
    });
    panel.addEventListener("click", function (event) {
      if (event.target.classList.contains("day-close")) { shut(); strip.focus(); }
    });
  });
})();
