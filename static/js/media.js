// Photos and documents: uploads, drag and keyboard reorder, counters, announcements.
// No inline scripts anywhere (strict CSP): everything is wired here from data-* attributes.
"use strict";

(function () {
  document.documentElement.classList.add("js");

  var POOL_SIZE = 4;            // files uploaded at the same time
  var MAX_ATTEMPTS = 4;         // one try plus three retries on a dropped connection
  var RETRY_BASE_MS = 1000;     // back-off 1 s, 2 s, 4 s (plus jitter)
  var REFRESH_DELAY_MS = 400;   // coalesce grid refreshes after uploads

  // --- Announcements and focus ------------------------------------------------------------

  function announce(message) {
    var region = document.getElementById("live-region");
    if (!region || !message) return;
    region.textContent = "";
    // A new text node after clearing makes screen readers speak a repeated message too.
    window.setTimeout(function () { region.textContent = message; }, 30);
  }

  document.addEventListener("media-announce", function (event) {
    var detail = event.detail || {};
    announce(detail.message);
    if (detail.focus) {
      var target = document.getElementById(detail.focus);
      if (target) target.focus();
    }
  });

  // --- Counters (Name 40, Caption 1000) -----------------------------------------------------

  function updateCounter(field) {
    var counter = document.getElementById(field.getAttribute("data-counter"));
    if (!counter) return;
    var max = field.getAttribute("maxlength");
    counter.textContent = field.value.length + " / " + max;
    counter.classList.toggle("counter-full", String(field.value.length) === max);
  }

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-counter")) {
      updateCounter(field);
      field.setAttribute("data-dirty", "true");
    }
  });

  // --- htmx: show error regions, and do not redraw under someone's fingers -------------------

  var dragging = false;
  var pendingRefresh = {};

  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var target = event.detail.target;
    // The editor's rooms, units, tours and videos (templates/drafts/parts.html) answer the same way.
    if (!target || !target.closest("[data-media-page], [data-parts-region]")) return;
    // A refused change to a draft that can no longer be edited (X-Media-Refused) carries the
    // reason to show, 403 included; any other 403 (CSRF) is left alone.
    var refused = status === 403 && event.detail.xhr.getResponseHeader("X-Media-Refused");
    if ([400, 409, 413, 422].indexOf(status) !== -1 || refused) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    // Sortable leaves inline styles (its animation) on the items; htmx would copy them onto
    // the new items while settling, which the CSP (no inline styles) refuses.
    target.querySelectorAll("[style]").forEach(function (el) { el.removeAttribute("style"); });
  });

  function editingInside(region) {
    // An open card menu would close under the pointer; it waits too.
    if (region.querySelector("details[open]")) return true;
    var active = document.activeElement;
    if (!active || !region.contains(active)) return false;
    return active.matches("input[type=text], input:not([type]), textarea, select") ||
      active.getAttribute("data-dirty") === "true";
  }

  // A change (a POST from inside a region) answers with the whole region. A poll answered
  // after it would put the region back as it was before the change, so a change aborts the
  // poll in flight, and no poll starts until the change is answered.
  // (The XHRs are kept, not counted: the form that sent one is often gone when it is answered.)
  var changing = {};

  function stillChanging(regionId) {
    changing[regionId] = (changing[regionId] || []).filter(function (xhr) { return xhr.readyState !== 4; });
    return changing[regionId].length > 0;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var config = event.detail.requestConfig;
    var elt = event.detail.elt;
    if (!config || config.verb === "get" || !elt || !elt.closest) return;
    var region = elt.closest("[data-media-region]");
    if (!region) return;
    stillChanging(region.id);
    changing[region.id].push(event.detail.xhr);
    htmx.trigger(region, "htmx:abort");
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-media-region")) return;
    if (event.detail.requestConfig && event.detail.requestConfig.verb !== "get") return;
    if (stillChanging(elt.id)) {
      event.preventDefault();
      return;
    }
    if (dragging || editingInside(elt)) {
      // Redraw later: now it would throw away typing or a drag in progress.
      event.preventDefault();
      pendingRefresh[elt.id] = true;
    }
  });

  function refreshWhenFree(region) {
    window.setTimeout(function () {
      var current = document.getElementById(region.id);
      if (current && pendingRefresh[region.id] && !editingInside(current) && !dragging) {
        pendingRefresh[region.id] = false;
        htmx.trigger(document.body, region.id === "photo-grid" ? "photos-changed" : "documents-changed");
      }
    }, 50);
  }

  document.addEventListener("toggle", function (event) {
    var region = event.target.closest && event.target.closest("[data-media-region]");
    if (region && !event.target.open) refreshWhenFree(region);
  }, true);

  document.addEventListener("focusout", function (event) {
    var region = event.target.closest && event.target.closest("[data-media-region]");
    if (region) refreshWhenFree(region);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    // A saved name/caption is no longer dirty.
    var form = event.detail.elt;
    if (form && form.matches && form.matches("form.photo-text") && event.detail.successful) {
      form.querySelectorAll("[data-dirty]").forEach(function (field) { field.removeAttribute("data-dirty"); });
    }
  });

  // --- Drag to reorder (the htmx Sortable recipe) ---------------------------------------------

  function initSortables(root) {
    if (typeof Sortable === "undefined") return;
    var lists = root.querySelectorAll ? root.querySelectorAll(".sortable") : [];
    if (root.matches && root.matches(".sortable")) lists = [root].concat(Array.prototype.slice.call(lists));
    Array.prototype.forEach.call(lists, function (list) {
      if (list._sortable) return;
      list._sortable = new Sortable(list, {
        animation: 150,
        handle: ".drag-area",
        draggable: "[data-id]",
        forceFallback: true,       // pointer events: mouse, touch and pen alike
        fallbackTolerance: 4,
        ghostClass: "sortable-ghost",
        chosenClass: "sortable-chosen",
        onStart: function () { dragging = true; document.body.classList.add("is-dragging"); },
        onEnd: function (evt) {
          dragging = false;
          document.body.classList.remove("is-dragging");
          if (evt.oldIndex === evt.newIndex) return;
          var form = document.getElementById(list.getAttribute("data-sortable-form"));
          var moved = form && form.querySelector("[data-moved-input]");
          if (moved) moved.value = evt.item.getAttribute("data-id");
          // Hidden inputs sit inside the items (form="..."), so their order is the new order.
          this.option("disabled", true);
          list.dispatchEvent(new CustomEvent("media-reordered", { bubbles: true }));
        }
      });
    });
  }

  // --- Keyboard reorder ---------------------------------------------------------------------

  var KEY_TO_MOVE = { ArrowLeft: "earlier", ArrowUp: "earlier", ArrowRight: "later", ArrowDown: "later",
                      Home: "first", End: "last" };

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || !KEY_TO_MOVE[event.key]) return;
    var item = event.target.closest && event.target.closest(".sortable > [data-id]");
    if (!item || event.target !== item) return;
    var button = item.querySelector('[data-move="' + KEY_TO_MOVE[event.key] + '"]');
    if (!button) return;
    event.preventDefault();
    if (!button.disabled) {
      button.form.requestSubmit(button);
    } else {
      announce(KEY_TO_MOVE[event.key] === "earlier" || KEY_TO_MOVE[event.key] === "first"
        ? "Already first" : "Already last");
    }
  });

  // --- Uploads -------------------------------------------------------------------------------

  function formatBytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function Uploader(form) {
    this.form = form;
    this.url = form.getAttribute("action");
    this.maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
    this.refreshEvent = form.getAttribute("data-refresh-event");
    this.queueList = document.querySelector('[data-upload-queue="' + form.getAttribute("data-kind") + '"]');
    this.waiting = [];
    this.running = 0;
    this.refreshTimer = null;
    var token = form.querySelector("[name=csrfmiddlewaretoken]");
    this.csrf = token ? token.value : "";
    this.bind();
  }

  Uploader.prototype.bind = function () {
    var self = this;
    // "Choose photos" and, on phones, "Take photo": each a file input of this form.
    var inputs = this.form.querySelectorAll("input[type=file]");
    Array.prototype.forEach.call(inputs, function (input) {
      input.addEventListener("change", function () {
        self.add(input.files);
        input.value = "";
      });
    });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      Array.prototype.forEach.call(inputs, function (input) {
        self.add(input.files);
        input.value = "";
      });
    });
    ["dragenter", "dragover"].forEach(function (name) {
      self.form.addEventListener(name, function (event) {
        if (!event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") === -1) return;
        event.preventDefault();
        self.form.classList.add("is-over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      self.form.addEventListener(name, function () { self.form.classList.remove("is-over"); });
    });
    this.form.addEventListener("drop", function (event) {
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      event.preventDefault();
      self.add(event.dataTransfer.files);
    });
  };

  Uploader.prototype.add = function (files) {
    var self = this;
    // The files chosen (or dropped) together, in that order: each upload names the whole
    // batch, so the server places it by the order chosen, not by when its upload finishes.
    var entries = Array.prototype.map.call(files || [], function (file) { return self.row(file); });
    var batch = entries.map(function (entry) { return entry.key; }).join(",");
    entries.forEach(function (entry) {
      var file = entry.file;
      entry.batch = batch;
      if (file.size > self.maxBytes) {
        self.finish(entry, "rejected", "This file is " + formatBytes(file.size) + "; the limit is " +
          formatBytes(self.maxBytes) + ". Export a smaller copy and upload that.");
        return;
      }
      self.waiting.push(entry);
    });
    this.pump();
  };

  Uploader.prototype.row = function (file) {
    var li = document.createElement("li");
    li.className = "upload-item is-waiting";
    var name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;   // textContent: a file name is never markup
    var progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", "Upload progress of " + file.name);
    var status = document.createElement("span");
    status.className = "upload-status";
    status.setAttribute("role", "status");
    status.textContent = "Waiting";
    li.appendChild(name);
    li.appendChild(progress);
    li.appendChild(status);
    if (this.queueList) this.queueList.appendChild(li);
    return { file: file, li: li, progress: progress, status: status, attempts: 0, key: newKey() };
  };

  Uploader.prototype.pump = function () {
    while (this.running < POOL_SIZE && this.waiting.length) {
      this.running += 1;
      this.send(this.waiting.shift());
    }
  };

  Uploader.prototype.send = function (entry) {
    var self = this;
    entry.attempts += 1;
    entry.li.className = "upload-item is-sending";
    entry.status.textContent = entry.attempts > 1 ? "Retrying (" + entry.attempts + ")" : "Uploading";
    var data = new FormData();
    data.append("csrfmiddlewaretoken", this.csrf);
    data.append("client_key", entry.key);   // a retry of the same file is recognised, not doubled
    data.append("batch", entry.batch);
    data.append("file", entry.file, entry.file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", this.url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", this.csrf);
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) entry.progress.value = Math.round((event.loaded / event.total) * 100);
    });
    xhr.addEventListener("load", function () { reportConnection(xhr.status); self.loaded(entry, xhr); });
    xhr.addEventListener("error", function () { reportConnection(0); self.retryOrFail(entry, "The connection dropped."); });
    xhr.addEventListener("timeout", function () { reportConnection(0); self.retryOrFail(entry, "The upload timed out."); });
    xhr.send(data);
  };

  // The "can't reach the portal" banner (app.js) hears of uploads too.
  function reportConnection(status) {
    if (window.portalConnection) window.portalConnection.answered(status);
  }

  Uploader.prototype.loaded = function (entry, xhr) {
    var body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
    if (xhr.status >= 500 || xhr.status === 429 || xhr.status === 408) {
      this.retryOrFail(entry, "The server could not take the file just now.");
      return;
    }
    if (!body || (xhr.responseURL && xhr.responseURL.indexOf("/login") !== -1)) {
      this.finish(entry, "rejected", "Your session has ended. Sign in again, then upload this file again.");
      return;
    }
    var result = body.files && body.files[0];
    if (result) {
      this.finish(entry, result.status, result.message);
    } else {
      this.finish(entry, "rejected", body.error || "The upload was refused.");
    }
  };

  Uploader.prototype.retryOrFail = function (entry, why) {
    var self = this;
    if (entry.attempts >= MAX_ATTEMPTS) {
      this.finish(entry, "rejected", why + " It was tried " + entry.attempts + " times; choose the file again to retry.");
      return;
    }
    var delay = RETRY_BASE_MS * Math.pow(2, entry.attempts - 1) * (0.5 + Math.random());
    entry.status.textContent = why + " Retrying in " + Math.ceil(delay / 1000) + " s…";
    window.setTimeout(function () { self.send(entry); }, delay);
  };

  Uploader.prototype.finish = function (entry, status, message) {
    var labels = { accepted: "Uploaded", warning: "Uploaded, with a warning", rejected: "Not uploaded" };
    entry.li.className = "upload-item is-" + status;
    entry.progress.value = status === "rejected" ? entry.progress.value : 100;
    entry.status.textContent = labels[status] + (message ? ": " + message : "");
    if (entry.attempts > 0) {
      this.running -= 1;
      this.pump();
    }
    if (status !== "rejected") this.scheduleRefresh();
    if (!this.running && !this.waiting.length) announce("Uploads finished.");
  };

  Uploader.prototype.scheduleRefresh = function () {
    var self = this;
    window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(function () { htmx.trigger(document.body, self.refreshEvent); },
      REFRESH_DELAY_MS);
  };

  function initUploaders(root) {
    var forms = root.querySelectorAll ? root.querySelectorAll("form[data-uploader]") : [];
    Array.prototype.forEach.call(forms, function (form) {
      if (!form._uploader) form._uploader = new Uploader(form);
    });
  }

  // --- Card menus: one open at a time; Esc or a click elsewhere closes it ---------------------

  function closeMenus(except) {
    document.querySelectorAll("details[data-card-menu][open]").forEach(function (menu) {
      if (menu !== except) menu.open = false;
    });
  }

  document.addEventListener("click", function (event) {
    var menu = event.target.closest && event.target.closest("details[data-card-menu]");
    closeMenus(menu);
  });

  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (!menu.matches || !menu.matches("details[data-card-menu]") || !menu.open) return;
    closeMenus(menu);
    var first = menu.querySelector(".menu-item:not([disabled])");
    if (first && menu.contains(document.activeElement)) first.focus();
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = event.target.closest && event.target.closest("details[data-card-menu][open]");
    if (!menu) return;
    event.preventDefault();
    menu.open = false;
    menu.querySelector("summary").focus();
  });

  // --- Select several: select all, the count, and the ticks kept across grid refreshes ------

  var selectedPhotos = {};

  function photoBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll("#photo-list [data-select-photo]"));
  }

  function updateBulkBar() {
    var bar = document.querySelector("[data-bulk-bar]");
    if (!bar) return;
    var boxes = photoBoxes();
    var ticked = boxes.filter(function (box) { return box.checked; });
    var count = bar.querySelector("[data-bulk-count]");
    count.textContent = ticked.length ? ticked.length + " selected" : "None selected";
    var all = bar.querySelector("[data-select-all]");
    all.checked = boxes.length > 0 && ticked.length === boxes.length;
    all.indeterminate = ticked.length > 0 && ticked.length < boxes.length;
    bar.querySelectorAll("[data-bulk-action]").forEach(function (button) { button.disabled = !ticked.length; });
    boxes.forEach(function (box) { box.closest(".photo-card").classList.toggle("is-selected", box.checked); });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-select-photo]")) {
      selectedPhotos[target.value] = target.checked;
      updateBulkBar();
    } else if (target.matches && target.matches("[data-select-all]")) {
      photoBoxes().forEach(function (box) { box.checked = target.checked; selectedPhotos[box.value] = target.checked; });
      updateBulkBar();
    }
  });

  document.addEventListener("click", function (event) {
    // A zip of the ticked photos: a plain link, so the token stays out of the address.
    var button = event.target.closest && event.target.closest("[data-bulk-download]");
    if (!button) return;
    event.preventDefault();
    var ids = photoBoxes().filter(function (box) { return box.checked; }).map(function (box) {
      return "selected=" + encodeURIComponent(box.value);
    });
    if (ids.length) window.location.assign(button.getAttribute("formaction") + "?" + ids.join("&"));
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    // After a delete or move the selection is done with (before the new grid re-ticks it).
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;  // detail.elt is the target here
    if (elt && elt.matches && elt.matches("[data-bulk-action]") && event.detail.xhr.status < 400) selectedPhotos = {};
  });

  function restoreSelection() {
    photoBoxes().forEach(function (box) { box.checked = !!selectedPhotos[box.value]; });
    updateBulkBar();
  }

  // --- Lightbox: a large view with the name and caption; arrows step, Esc closes --------------

  var lightbox = { dialog: null, cardId: null, opener: null };

  function lightboxCards() {
    return Array.prototype.slice.call(document.querySelectorAll("#photo-list > [data-id]"));
  }

  function lightboxDirty() {
    var form = lightbox.dialog && lightbox.dialog.querySelector("[data-lightbox-form]");
    return !!(form && form.querySelector("[data-dirty]"));
  }

  function showInLightbox(card) {
    var dialog = lightbox.dialog;
    lightbox.cardId = card.id;
    var cards = lightboxCards();
    var number = card.getAttribute("data-number");
    dialog.querySelector("[data-lightbox-title]").textContent =
      "Photo " + number + " of " + cards.length + (card.classList.contains("is-primary") ? " (primary)" : "");
    var image = dialog.querySelector("[data-lightbox-image]");
    var src = card.getAttribute("data-large-src");
    image.hidden = !src;
    dialog.querySelector("[data-lightbox-pending]").hidden = !!src;
    if (src) { image.src = src; } else { image.removeAttribute("src"); }
    image.alt = card.getAttribute("data-name");
    var form = dialog.querySelector("[data-lightbox-form]");
    if (form) {
      form.setAttribute("action", card.getAttribute("data-update-url"));
      ["name", "caption"].forEach(function (field) {
        var input = form.elements[field];
        input.value = card.getAttribute("data-" + field);
        input.removeAttribute("data-dirty");
        input.removeAttribute("aria-invalid");
        updateCounter(input);
      });
      var status = dialog.querySelector("[data-lightbox-status]");
      status.textContent = "";
      status.classList.remove("is-error");
    } else {
      dialog.querySelector("[data-lightbox-name]").textContent = card.getAttribute("data-name");
      dialog.querySelector("[data-lightbox-caption]").textContent = card.getAttribute("data-caption");
    }
    var index = cards.indexOf(card);
    dialog.querySelector('[data-lightbox-step="-1"]').disabled = index <= 0;
    dialog.querySelector('[data-lightbox-step="1"]').disabled = index >= cards.length - 1;
  }

  function saveLightbox() {
    // Resolves true when saved (or nothing to save); false with the field's error shown.
    var form = lightbox.dialog.querySelector("[data-lightbox-form]");
    if (!form) return Promise.resolve(true);
    var status = lightbox.dialog.querySelector("[data-lightbox-status]");
    var cardId = lightbox.cardId;
    status.classList.remove("is-error");
    status.textContent = "Saving…";
    return fetch(form.getAttribute("action"), {
      method: "POST",
      body: new FormData(form),
      headers: { "HX-Request": "true", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
      credentials: "same-origin"
    }).then(function (response) {
      reportConnection(response.status);
      return response.text().then(function (text) {
        if (!response.ok) {
          status.classList.add("is-error");
          status.textContent = text || "Not saved.";
          ["name", "caption"].forEach(function (field) {
            var input = form.elements[field];
            var named = text.toLowerCase().indexOf(field + ":") !== -1;
            if (named) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
          });
          return false;
        }
        status.textContent = text;
        var card = document.getElementById(cardId);
        if (card) {
          card.setAttribute("data-name", form.elements.name.value.trim());
          card.setAttribute("data-caption", form.elements.caption.value.trim());
        }
        form.querySelectorAll("[data-dirty]").forEach(function (field) { field.removeAttribute("data-dirty"); });
        form.querySelectorAll("[aria-invalid]").forEach(function (field) { field.removeAttribute("aria-invalid"); });
        htmx.trigger(document.body, "photos-changed");
        return true;
      });
    }, function () {
      reportConnection(0);
      status.classList.add("is-error");
      status.textContent = "Not saved: the portal could not be reached. Your text is kept here; try again.";
      return false;
    });
  }

  function whenSaved(then) {
    if (!lightboxDirty()) { then(); return; }
    saveLightbox().then(function (saved) { if (saved) then(); });
  }

  function stepLightbox(step) {
    var cards = lightboxCards();
    var current = document.getElementById(lightbox.cardId);
    var next = cards[cards.indexOf(current) + step];
    if (!next) return;
    whenSaved(function () {
      showInLightbox(next);
      announce("Photo " + next.getAttribute("data-number") + " of " + cards.length);
    });
  }

  function openLightbox(card) {
    var dialog = lightbox.dialog = document.querySelector("[data-lightbox]");
    if (!dialog || typeof dialog.showModal !== "function") return;
    showInLightbox(card);
    dialog.showModal();
    dialog.querySelector("[data-lightbox-stage]").focus();
  }

  function closeLightbox() {
    whenSaved(function () { lightbox.dialog.close(); });
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-lightbox-open]");
    if (opener) {
      event.preventDefault();
      openLightbox(opener.closest("[data-id]"));
      return;
    }
    if (!lightbox.dialog) return;
    var step = event.target.closest && event.target.closest("[data-lightbox-step]");
    if (step && lightbox.dialog.contains(step)) stepLightbox(parseInt(step.getAttribute("data-lightbox-step"), 10));
    if (event.target.closest && event.target.closest("[data-lightbox-close]")) closeLightbox();
  });

  document.addEventListener("submit", function (event) {
    if (!event.target.matches("[data-lightbox-form]")) return;
    event.preventDefault();
    saveLightbox();
  });

  document.addEventListener("keydown", function (event) {
    // Enter on a focused card opens it, as a click on its photo does.
    if (event.key !== "Enter" || event.altKey || !event.target.matches("#photo-list > [data-id]")) return;
    event.preventDefault();
    openLightbox(event.target);
  });

  document.addEventListener("keydown", function (event) {
    var dialog = lightbox.dialog;
    if (!dialog || !dialog.open) return;
    var typing = event.target.matches("input, textarea, select");
    if ((event.key === "ArrowLeft" || event.key === "ArrowRight") && !typing && !event.altKey) {
      event.preventDefault();
      stepLightbox(event.key === "ArrowLeft" ? -1 : 1);
    }
  });

  document.addEventListener("cancel", function (event) {
    // Esc: save what was typed first, then close (the close event returns the focus).
    if (event.target !== lightbox.dialog) return;
    event.preventDefault();
    closeLightbox();
  }, true);

  document.addEventListener("close", function (event) {
    if (event.target !== lightbox.dialog) return;
    var card = document.getElementById(lightbox.cardId);
    if (card) card.focus();
  }, true);

  // --- Start ---------------------------------------------------------------------------------

  function init(root) {
    initSortables(root);
    initUploaders(root);
    if (root.querySelector && (root.id === "photo-grid" || root.querySelector("#photo-grid"))) restoreSelection();
  }

  if (typeof htmx !== "undefined") {
    htmx.onLoad(init);
  } else {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  }
})();
