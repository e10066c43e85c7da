/* Callback Center screens: a little JavaScript of our own, no framework. Every form works without it. */
(function () {
  "use strict";

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function on(selector, event, handler) {
    document.addEventListener(event, function (e) {
      var target = e.target.closest ? e.target.closest(selector) : null;
      if (target) handler(e, target);
    }, event === "mouseover" || event === "focusin");
  }

  /* Lists that become cards on a phone: each cell carries its column's name to show beside it. */
  Array.prototype.forEach.call(document.querySelectorAll("#result_list"), function (table) {
    var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
      Array.prototype.forEach.call(row.children, function (cell, index) {
        if (names[index]) cell.setAttribute("data-label", names[index]);
      });
    });
  });

  /* Header account switcher and other selects that submit when changed. */
  on("select[data-autosubmit]", "change", function (e, select) { select.form.submit(); });

  /* Forms that ask before doing something that cannot be undone. */
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
  }, true);

  on("button[data-confirm]", "click", function (e, button) {
    if (!window.confirm(button.dataset.confirm)) e.preventDefault();
  });

  /* Copy a shown-once secret, an id or a command (a plain http:// page has no clipboard API: select and copy). */
  on("[data-copy]", "click", function (e, button) {
    var source = document.querySelector(button.dataset.copy);
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (document.execCommand("copy")) done();
  });

  /* Refresh: run the connectivity test; the answer's status cell (pill, reason, what the test found)
     replaces the row's, and stays until the next check. */
  on("[data-refresh-url]", "click", function (e, button) {
    button.disabled = true;
    button.classList.add("busy");
    var label = button.textContent;
    button.textContent = "Testing…";
    fetch(button.dataset.refreshUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    }).then(function (response) { return response.json(); }).then(function (answer) {
      var cell = document.querySelector('[data-status-for="' + button.dataset.profile + '"]');
      if (cell && answer.html) cell.outerHTML = answer.html;
      button.title = answer.error || answer.detail || "";
    }).catch(function () { button.title = "The test could not be run: try again."; }).finally(function () {
      button.disabled = false;
      button.classList.remove("busy");
      button.textContent = label;
    });
  });

  /* The callback list keeps its pills current: a failure shows as Failing without a reload. */
  function watchHealth(holder) {
    var every = (parseFloat(holder.dataset.healthEveryS) || 10) * 1000;
    function poll() {
      if (document.hidden) { setTimeout(poll, every); return; }
      var cells = document.querySelectorAll("[data-status-for]");
      if (!cells.length) return;
      var query = Array.prototype.map.call(cells, function (cell) {
        return "id=" + encodeURIComponent(cell.dataset.statusFor);
      }).join("&");
      fetch(holder.dataset.healthUrl + "?" + query, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          Object.keys(answer.cells || {}).forEach(function (id) {
            var cell = document.querySelector('[data-status-for="' + id + '"]');
            if (cell && cell.outerHTML !== answer.cells[id]) cell.outerHTML = answer.cells[id];
          });
        }).catch(function () { /* the next round tries again */ }).finally(function () { setTimeout(poll, every); });
    }
    setTimeout(poll, every);
  }

  /* Delete: our own question in a dialog (the link opens the same question as a page without script). */
  on("a[data-delete-prompt]", "click", function (e, link) {
    if (typeof HTMLDialogElement === "undefined") return;
    e.preventDefault();
    var dialog = document.createElement("dialog");
    dialog.className = "cc-dialog";
    dialog.setAttribute("aria-label", "Delete callback");
    var text = document.createElement("p");
    text.className = "cc-delete-prompt";
    text.textContent = link.dataset.deletePrompt;
    var note = document.createElement("p");
    note.className = "help";
    note.textContent = "Deliveries still waiting are cancelled; its history stays in the delivery log.";
    var form = document.createElement("form");
    form.method = "post";
    form.action = link.href;
    form.innerHTML = '<input type="hidden" name="csrfmiddlewaretoken"><div class="cc-inline">' +
      '<button type="submit" class="cc-button danger">Delete</button>' +
      '<button type="button" class="cc-button" data-dialog-cancel>Cancel</button></div>';
    form.querySelector("input").value = csrfToken();
    form.querySelector("[data-dialog-cancel]").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { dialog.remove(); });
    dialog.appendChild(text);
    dialog.appendChild(note);
    dialog.appendChild(form);
    document.body.appendChild(dialog);
    dialog.showModal();
  });

  /* Headers: key-value rows kept in step with the JSON textarea the form submits. */
  function kvSetup(box) {
    var source = document.getElementById(box.dataset.kvFor) || box.querySelector("textarea");
    var rows = box.querySelector(".cc-kv-rows");
    source.style.display = "none";
    function write() {
      var value = {};
      rows.querySelectorAll(".cc-kv-row").forEach(function (row) {
        var inputs = row.querySelectorAll("input");
        if (inputs[0].value.trim()) value[inputs[0].value.trim()] = inputs[1].value;
      });
      source.value = JSON.stringify(value);
    }
    function add(name, value) {
      var row = document.createElement("div");
      row.className = "cc-kv-row";
      row.innerHTML = '<input type="text" placeholder="Header name" aria-label="Header name">' +
        '<input type="text" placeholder="Value" aria-label="Header value">' +
        '<button type="button" class="cc-button danger" aria-label="Remove header">Remove</button>';
      var inputs = row.querySelectorAll("input");
      inputs[0].value = name || "";
      inputs[1].value = value || "";
      row.addEventListener("input", write);
      row.querySelector("button").addEventListener("click", function () { row.remove(); write(); });
      rows.appendChild(row);
      return row;
    }
    var initial = {};
    try { initial = JSON.parse(source.value || "{}") || {}; } catch (error) { source.style.display = ""; return; }
    Object.keys(initial).forEach(function (name) { add(name, initial[name]); });
    box.querySelector("[data-kv-add]").addEventListener("click", function () { add().querySelector("input").focus(); });
  }

  /* Event types: the example of the one under the pointer, and placeholders from the chosen ones. */
  function paths(value, prefix, out) {
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
      Object.keys(value).forEach(function (key) { paths(value[key], prefix + "." + key, out); });
    } else if (out.indexOf(prefix) < 0) {
      out.push(prefix);
    }
    return out;
  }

  function showExample(label) {
    var json = document.getElementById("cc-example-json");
    if (!json || !label) return;
    document.querySelectorAll(".cc-event-group label.pointed").forEach(function (l) { l.classList.remove("pointed"); });
    label.classList.add("pointed");
    json.textContent = label.dataset.example;
    document.getElementById("cc-example-type").textContent = label.dataset.code;
    document.getElementById("cc-example-description").textContent = label.dataset.description;
  }

  function offerPlaceholders() {
    var template = document.getElementById("id_body_template");
    if (!template) return;
    var box = document.getElementById("cc-placeholders");
    if (!box) {
      box = document.createElement("div");
      box.id = "cc-placeholders";
      box.className = "cc-placeholders";
      template.insertAdjacentElement("afterend", box);
    }
    var offered = ["event.id", "event.type", "event.created"];
    document.querySelectorAll("#cc-event-types input:checked").forEach(function (input) {
      var label = input.closest("label");
      try { paths(JSON.parse(label.dataset.example), "data", offered); } catch (error) { /* no example */ }
    });
    box.innerHTML = "";
    var title = document.createElement("span");
    title.className = "help";
    title.textContent = "Insert:";
    box.appendChild(title);
    offered.forEach(function (path) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "<" + path + ">";
      button.addEventListener("click", function () {
        var start = template.selectionStart || template.value.length, end = template.selectionEnd || start;
        template.value = template.value.slice(0, start) + button.textContent + template.value.slice(end);
        template.focus();
        template.selectionStart = template.selectionEnd = start + button.textContent.length;
      });
      box.appendChild(button);
    });
  }

  /* Encryption: key and IV lengths checked as you type; GCM with a fixed IV warned about. */
  var KEY_LENGTHS = { "128": 16, "192": 24, "256": 32 };
  function hint(input, id) {
    var span = document.getElementById(id);
    if (!span) {
      span = document.createElement("span");
      span.id = id;
      span.className = "cc-live-check";
      input.insertAdjacentElement("afterend", span);
    }
    return span;
  }
  function checkEncryption() {
    var cipher = document.getElementById("id_encryption_cipher");
    if (!cipher) return;
    var key = document.getElementById("id_encryption_key");
    var iv = document.getElementById("id_encryption_iv");
    var random = document.getElementById("id_encryption_iv_random");
    var bits = (cipher.value.match(/aes-(\d+)-/) || [])[1];
    var keyHint = hint(key, "cc-key-check"), ivHint = hint(iv, "cc-iv-check");
    if (!bits) { keyHint.textContent = ""; ivHint.textContent = ""; }
    if (bits && key.value) {
      var want = KEY_LENGTHS[bits], have = key.value.length;
      keyHint.className = "cc-live-check " + (have === want ? "ok" : "ko");
      keyHint.textContent = have === want ? "✓ " + have + " characters" : have + " of " + want + " characters for AES-" + bits;
    } else if (bits) {
      keyHint.className = "cc-live-check";
      // An empty box over a stored key keeps that key: nothing to count.
      keyHint.textContent = key.placeholder ? "" : KEY_LENGTHS[bits] + " characters needed";
    }
    var fixed = random && !random.checked;
    var ivRow = iv.closest(".form-row");
    if (ivRow) ivRow.style.opacity = fixed ? "1" : ".55";
    if (bits && fixed) {
      ivHint.className = "cc-live-check " + (iv.value.length === 16 ? "ok" : "ko");
      ivHint.textContent = iv.value.length === 16 ? "✓ 16 characters" : iv.value.length + " of 16 characters";
    } else {
      ivHint.textContent = "";
    }
    var warning = document.getElementById("cc-gcm-warning");
    var gcmFixed = /gcm/.test(cipher.value) && fixed;
    if (gcmFixed && !warning) {
      warning = document.createElement("div");
      warning.id = "cc-gcm-warning";
      warning.className = "cc-warning";
      warning.setAttribute("role", "alert");
      warning.textContent = "GCM with a fixed IV reuses the nonce on every message: anyone who sees two messages can " +
        "forge and read them. Turn on “Random IV per message” (the IV is sent before the ciphertext).";
      (random.closest(".form-row") || random).insertAdjacentElement("afterend", warning);
    } else if (!gcmFixed && warning) {
      warning.remove();
    }
  }

  /* Configure events: the page notices the Telegram binding without a manual reload. */
  function watchBinding(box) {
    var url = box.dataset.bindingUrl;
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (state) {
          if (state.bound) {
            box.querySelectorAll("[data-binding-chat]").forEach(function (el) { el.textContent = state.chat; });
            box.classList.add("bound");
            box.querySelectorAll("[data-when-bound]").forEach(function (el) { el.hidden = false; });
            box.querySelectorAll("[data-when-unbound]").forEach(function (el) { el.hidden = true; });
          } else {
            setTimeout(poll, 1500);
          }
        }).catch(function () { setTimeout(poll, 4000); });
    }
    if (!box.classList.contains("bound")) poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".cc-kv").forEach(kvSetup);
    var groups = document.getElementById("cc-event-types");
    if (groups) {
      groups.addEventListener("mouseover", function (e) { showExample(e.target.closest("label")); });
      groups.addEventListener("focusin", function (e) { showExample(e.target.closest("label")); });
      groups.addEventListener("change", offerPlaceholders);
      showExample(groups.querySelector("input:checked") ? groups.querySelector("input:checked").closest("label")
        : groups.querySelector("label"));
      offerPlaceholders();
    }
    ["id_encryption_cipher", "id_encryption_key", "id_encryption_iv", "id_encryption_iv_random"].forEach(function (id) {
      var input = document.getElementById(id);
      if (input) { input.addEventListener("input", checkEncryption); input.addEventListener("change", checkEncryption); }
    });
    checkEncryption();
    document.querySelectorAll("[data-binding-url]").forEach(watchBinding);
    document.querySelectorAll("[data-health-url]").forEach(watchHealth);
    var toggle = document.querySelector("[data-telegram-toggle]");
    if (toggle) {
      var step = document.getElementById(toggle.dataset.telegramToggle);
      var sync = function () { if (step) step.hidden = !toggle.checked; };
      toggle.addEventListener("change", sync);
      sync();
    }
  });
})();
