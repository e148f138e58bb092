/* Progressive enhancement of the subscriber's component choice; the form works without it,
   because the server counts a ticked group as all of its members.
   - Ticking a group ticks its members; unticking one member unticks the group.
   - Ticking any component selects "Only the components I tick". */
(function () {
  "use strict";

  var form = document.querySelector("form[data-choice-form]");
  if (!form) { return; }
  var some = form.querySelector("input[name='scope'][value='some']");

  function members(group) {
    return form.querySelectorAll("input[data-member-of='" + group.value + "']");
  }

  // A group is ticked exactly when all of its members are, so that what is sent is what is seen.
  function sync(group) {
    var boxes = members(group);
    var ticked = 0;
    boxes.forEach(function (box) { if (box.checked) { ticked += 1; } });
    group.checked = boxes.length > 0 && ticked === boxes.length;
    group.indeterminate = ticked > 0 && ticked < boxes.length;
  }

  form.querySelectorAll("input[name='group_ids']").forEach(function (group) {
    if (group.checked) {
      members(group).forEach(function (box) { box.checked = true; });
    }
    sync(group);
    group.addEventListener("change", function () {
      members(group).forEach(function (box) { box.checked = group.checked; });
      group.indeterminate = false;
    });
  });

  form.addEventListener("change", function (event) {
    var box = event.target;
    if (box.name !== "component_ids" && box.name !== "group_ids") { return; }
    if (box.checked && some) { some.checked = true; }
    var parent = box.getAttribute("data-member-of");
    if (parent) {
      sync(form.querySelector("input[name='group_ids'][value='" + parent + "']"));
    }
  });
})();
