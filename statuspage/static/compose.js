/* The console's writing aids; every form works without them.
   - A Markdown message gets a Preview button that shows it as the page will.
   - "Preview email" shows the email an update would send, in each language, and whom it reaches.
   - The component picker filters by name, and a group's select sets all of its members. */
(function () {
  "use strict";

  function csrf(form) {
    var input = form && form.querySelector("input[name='csrf_token']");
    return input ? input.value : "";
  }

  function post(url, form, payload) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": csrf(form)},
      body: JSON.stringify(payload)
    }).then(function (response) {
      return response.json().then(function (data) {
        return response.ok ? data : Promise.reject(data);
      });
    });
  }

  /* --- Markdown preview --------------------------------------------------------------------- */

  document.querySelectorAll("textarea[data-markdown]").forEach(function (area) {
    var markdownUrl = area.getAttribute("data-markdown");
    var button = document.createElement("button");
    var shown = document.createElement("div");
    button.type = "button";
    button.className = "btn btn--small btn--ghost preview-toggle";
    button.textContent = "Preview";
    button.setAttribute("aria-expanded", "false");
    shown.className = "prose markdown-preview";
    shown.hidden = true;
    area.insertAdjacentElement("afterend", shown);
    area.insertAdjacentElement("afterend", button);
    button.addEventListener("click", function () {
      if (!shown.hidden) {
        shown.hidden = true;
        button.textContent = "Preview";
        button.setAttribute("aria-expanded", "false");
        return;
      }
      post(markdownUrl, area.form, {text: area.value}).then(function (data) {
        shown.innerHTML = data.html || "<p class=\"muted\">Nothing to show.</p>";
        shown.hidden = false;
        button.textContent = "Edit";
        button.setAttribute("aria-expanded", "true");
      });
    });
  });

  /* --- the email an update would send ------------------------------------------------------- */

  document.querySelectorAll("[data-email-preview]").forEach(function (button) {
    var form = button.form;
    var panel = document.getElementById(button.getAttribute("aria-controls"));
    button.hidden = false;
    button.addEventListener("click", function () {
      var components = {};
      form.querySelectorAll("select[name^='component-']").forEach(function (select) {
        if (select.value) { components[select.name.slice("component-".length)] = select.value; }
      });
      var field = function (name) {
        var el = form.querySelector("[name='" + name + "']");
        return el ? el.value : "";
      };
      post(button.getAttribute("data-email-preview"), form, {
        name: field("name") || button.getAttribute("data-incident-name") || "",
        status: field("status"), body: field("body"), components: components,
        announced: (button.getAttribute("data-announced") || "").split(",").filter(Boolean),
        incident_id: button.getAttribute("data-incident-id") || null
      }).then(function (data) {
        panel.textContent = "";
        var reach = document.createElement("p");
        var parts = Object.keys(data.reach).map(function (code) {
          return data.reach[code] + " in " + (button.getAttribute("data-language-" + code) || code);
        });
        reach.textContent = "Reaches " + data.total + " subscriber" + (data.total === 1 ? "" : "s") +
          " (" + parts.join(", ") + ").";
        panel.appendChild(reach);
        Object.keys(data.emails).forEach(function (code) {
          var email = data.emails[code];
          var box = document.createElement("details");
          var summary = document.createElement("summary");
          var text = document.createElement("pre");
          box.open = data.reach[code] > 0 || code === "en";
          summary.textContent = (button.getAttribute("data-language-" + code) || code) + ": " +
            email.subject;
          text.className = "mail-text";
          text.textContent = email.text;
          box.appendChild(summary);
          box.appendChild(text);
          panel.appendChild(box);
        });
        panel.hidden = false;
      }, function (error) {
        panel.textContent = (error && error.message) || "The preview failed.";
        panel.hidden = false;
      });
    });
  });

  /* --- the component picker ------------------------------------------------------------------ */

  document.querySelectorAll("[data-component-picker]").forEach(function (picker) {
    var search = picker.querySelector("[data-picker-search]");
    if (search) {
      search.hidden = false;
      search.querySelector("input").addEventListener("input", function (event) {
        var wanted = event.target.value.trim().toLowerCase();
        picker.querySelectorAll("[data-picker-row]").forEach(function (row) {
          row.hidden = wanted !== "" && row.getAttribute("data-name").indexOf(wanted) < 0;
        });
        picker.querySelectorAll("details[data-picker-group]").forEach(function (group) {
          var any = group.querySelector("[data-picker-row]:not([hidden])");
          group.hidden = !any;
          if (wanted && any) { group.open = true; }
        });
      });
    }
    picker.querySelectorAll("select[data-set-group]").forEach(function (all) {
      all.hidden = false;
      all.previousElementSibling.hidden = false;
      all.addEventListener("change", function () {
        var group = all.closest("details");
        group.querySelectorAll("select[name^='component-']").forEach(function (select) {
          select.value = all.value;
          select.dispatchEvent(new Event("change", {bubbles: true}));
        });
      });
    });
  });
})();
