// The portal's one init script for htmx behaviour (no inline scripts: strict CSP).
//
// Autosave protocol (drafts editor). Each field is a "saver": an input, select or
// textarea with data-autosave="<field>" (or the custom-fields form). htmx posts it to
// drafts:draft_field_save with the value, and the field's (version, seen_value) pair
// from its #save-<field> region: "this field held seen_value at version". Replies:
//   200  saved (or unchanged): #save-<field> swapped with the new pair; HX-Trigger
//        `draft-saved` (and `draft-location-saved`) makes the page re-read its rules.
//   409  someone else changed the field: both values and "keep mine" / "take theirs".
//   422  the value cannot be stored: the message next to the field, the input untouched.
// Anything else (no answer, timeout, 5xx, a login page after the session ended) is
// retried with back-off. Until the server confirms, the typed value stays in
// localStorage and is restored after a reload or a new sign-in.
"use strict";

(function () {
  document.documentElement.classList.add("js");

  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 30000;
  const STORE_PREFIX = "portal.autosave.v1:";
  const MAX_UNCONFIRMED = 5;
  const CUSTOM_GROUP_DEFAULT = "General";

  const store = (function () {
    try {
      const storage = window.localStorage;
      storage.setItem(STORE_PREFIX + "probe", "1");
      storage.removeItem(STORE_PREFIX + "probe");
      return storage;
    } catch (error) {
      return null;
    }
  })();

  function announce(text) {
    const region = document.getElementById("live-region");
    if (!region) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 60);
  }

  function loginPath() {
    const link = document.querySelector("[data-login-path]");
    return link ? link.dataset.loginPath : "/accounts/login/";
  }

  function isLoginReply(xhr) {
    if (!xhr || !xhr.responseURL) return false;
    try {
      return new URL(xhr.responseURL).pathname === loginPath();
    } catch (error) {
      return false;
    }
  }

  function retryable(status) {
    return status === 0 || status === 408 || status === 429 || status >= 500;
  }

  function csrfRefused(xhr) {
    return xhr && xhr.status === 403 && /CSRF/.test(xhr.responseText || "");
  }

  function cookie(name) {
    const found = document.cookie.split("; ").find(function (item) { return item.indexOf(name + "=") === 0; });
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  // --- Savers and their state ---------------------------------------------------

  const states = new WeakMap();

  function stateOf(saver) {
    let state = states.get(saver);
    if (!state) {
      state = { phase: "saved", attempts: 0, timer: null, inflight: null, unconfirmed: [], conflict: false };
      states.set(saver, state);
    }
    return state;
  }

  function isSaver(element) {
    return element && element.matches && element.matches("[data-autosave]") && rootOf(element);
  }

  function rootOf(element) {
    return element.closest("[data-autosave-root]");
  }

  function saverOf(element) {
    return element && element.closest ? element.closest("[data-autosave]") : null;
  }

  function isCustom(saver) {
    return saver.tagName === "FORM";
  }

  function fieldName(saver) {
    return saver.dataset.autosave;
  }

  function stateBox(saver) {
    return document.getElementById("save-" + fieldName(saver));
  }

  function saverOfBox(box) {
    const root = rootOf(box);
    const name = box.id.replace(/^save-/, "");
    return root ? root.querySelector('[data-autosave="' + name + '"]') : null;
  }

  function pairInput(saver, name) {
    const box = stateBox(saver);
    return box ? box.querySelector('input[name="' + name + '"]') : null;
  }

  function setPair(saver, version, seen) {
    const versionInput = pairInput(saver, "version");
    const seenInput = pairInput(saver, "seen_value");
    if (versionInput && version) versionInput.value = version;
    if (seenInput && seen !== undefined && seen !== null) seenInput.value = seen;
  }

  // --- Values: a text field's value, or the custom-fields table as canonical JSON ---

  function canonical(value) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return "{" + Object.keys(value).sort().map(function (key) {
        return JSON.stringify(key) + ":" + canonical(value[key]);
      }).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  function leafText(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "boolean") return value ? "Yes" : "No";
    return String(value);
  }

  function customRows(form) {
    return Array.from(form.querySelectorAll("[data-cf-rows] .cf-row")).map(function (row) {
      return ["cf_group", "cf_name", "cf_value"].map(function (name) {
        const input = row.querySelector('[name="' + name + '"]');
        return input ? input.value : "";
      });
    });
  }

  function customDict(form) {
    const result = {};
    for (const [rawGroup, rawName, rawValue] of customRows(form)) {
      const group = rawGroup.trim() || CUSTOM_GROUP_DEFAULT;
      const name = rawName.trim();
      const value = rawValue.trim();
      if (!rawGroup.trim() && !name && !value) continue;
      if (!name) return null;
      (result[group] = result[group] || {})[name] = value;
    }
    return result;
  }

  function textDict(parsed) {
    const result = {};
    Object.keys(parsed || {}).forEach(function (group) {
      result[group] = {};
      Object.keys(parsed[group] || {}).forEach(function (name) {
        result[group][name] = leafText(parsed[group][name]);
      });
    });
    return result;
  }

  function readValue(saver) {
    if (!isCustom(saver)) return saver.value;
    const dict = customDict(saver);
    return dict === null ? JSON.stringify(customRows(saver)) : canonical(dict);
  }

  function seenText(saver) {
    const input = pairInput(saver, "seen_value");
    const raw = input ? input.value : "";
    if (!isCustom(saver)) return raw;
    try {
      return canonical(textDict(JSON.parse(raw || "{}")));
    } catch (error) {
      return raw;
    }
  }

  function newCustomRow(form, values) {
    const template = form.querySelector("#cf-row-template");
    const row = template.content.querySelector(".cf-row").cloneNode(true);
    ["cf_group", "cf_name", "cf_value"].forEach(function (name, index) {
      row.querySelector('[name="' + name + '"]').value = values[index] || "";
    });
    return row;
  }

  // A multi-select list of the MLS: its checkboxes write the chosen values, in the list's
  // order, as JSON into the hidden input that autosaves.
  function multiChoices(saver) {
    const box = saver.closest(".multi-choice");
    return box ? Array.from(box.querySelectorAll("[data-multi-choice]")) : [];
  }

  function syncMultiChoices(saver, text) {
    let chosen = [];
    try {
      chosen = JSON.parse(text || "[]");
    } catch (error) {
      chosen = [];
    }
    multiChoices(saver).forEach(function (box) { box.checked = chosen.indexOf(box.value) >= 0; });
  }

  function writeValue(saver, text) {
    if (!isCustom(saver)) {
      saver.value = text;
      if (saver.hasAttribute("data-multi")) syncMultiChoices(saver, text);
      updateCounter(saver);
      return;
    }
    let rows;
    try {
      const parsed = JSON.parse(text || "{}");
      rows = Array.isArray(parsed) ? parsed : [];
      if (!Array.isArray(parsed)) {
        Object.keys(parsed).forEach(function (group) {
          Object.keys(parsed[group] || {}).forEach(function (name) {
            rows.push([group, name, leafText(parsed[group][name])]);
          });
        });
      }
    } catch (error) {
      return;
    }
    const body = saver.querySelector("[data-cf-rows]");
    body.replaceChildren();
    rows.forEach(function (values) { body.appendChild(newCustomRow(saver, values)); });
    body.appendChild(newCustomRow(saver, ["", "", ""]));
  }

  // --- Local copy of what is not confirmed yet ------------------------------------

  function storeKey(saver) {
    const root = rootOf(saver);
    return STORE_PREFIX + root.dataset.user + ":" + root.dataset.draft + ":" + fieldName(saver);
  }

  function remember(saver) {
    if (!store) return;
    const versionInput = pairInput(saver, "version");
    const seenInput = pairInput(saver, "seen_value");
    const record = {
      value: readValue(saver),
      version: versionInput ? versionInput.value : "",
      seen: seenInput ? seenInput.value : "",
      unconfirmed: stateOf(saver).unconfirmed,
      at: Date.now(),
    };
    try {
      store.setItem(storeKey(saver), JSON.stringify(record));
    } catch (error) {
      // A full storage only loses the local copy; the save itself goes on.
    }
  }

  function forget(saver) {
    if (store) store.removeItem(storeKey(saver));
  }

  function recall(saver) {
    if (!store) return null;
    try {
      return JSON.parse(store.getItem(storeKey(saver)));
    } catch (error) {
      return null;
    }
  }

  // --- What the person sees ---------------------------------------------------------

  const FIELD_TEXT = {
    saved: "Saved",
    unsaved: "Unsaved",
    saving: "Saving…",
    retrying: "Not saved — retrying",
    "signed-out": "Not saved — signed out",
    conflict: "Not saved: changed by someone else",
    invalid: "Not saved",
    failed: "Not saved",
  };
  const PAGE_ORDER = ["signed-out", "conflict", "invalid", "failed", "retrying", "saving", "unsaved"];
  const PAGE_TEXT = {
    "signed-out": "Signed out — changes kept on this device",
    conflict: "A field needs your decision",
    invalid: "A field could not be saved",
    failed: "A field could not be saved",
    retrying: "Connection problem — retrying",
    saving: "Saving…",
    unsaved: "Unsaved changes",
    saved: "All changes saved",
  };

  function setPhase(saver, phase, text) {
    stateOf(saver).phase = phase;
    const box = stateBox(saver);
    if (box) {
      box.dataset.state = phase;
      const label = box.querySelector(".save-status");
      if (label && text !== false) label.textContent = text || FIELD_TEXT[phase];
      if (phase !== "invalid" && phase !== "failed") {
        box.querySelectorAll(".field-errors").forEach(function (node) { node.remove(); });
      }
    }
    if (!isCustom(saver)) {
      if (phase === "invalid") saver.setAttribute("aria-invalid", "true");
      else saver.removeAttribute("aria-invalid");
    }
    updatePage(rootOf(saver));
  }

  function updatePage(root) {
    if (!root) return;
    const phases = new Set();
    root.querySelectorAll("[data-autosave]").forEach(function (saver) { phases.add(stateOf(saver).phase); });
    const worst = PAGE_ORDER.find(function (phase) { return phases.has(phase); }) || "saved";
    const banner = document.getElementById("signed-out");
    if (banner) banner.hidden = !phases.has("signed-out");
    const status = document.getElementById("page-save-status");
    if (!status || status.dataset.state === worst) return;
    const before = status.dataset.state;
    status.dataset.state = worst;
    status.textContent = PAGE_TEXT[worst];
    if (worst === "retrying" || worst === "signed-out" || worst === "conflict") {
      announce(PAGE_TEXT[worst]);
    } else if (worst === "saved" && ["retrying", "signed-out", "conflict", "invalid"].indexOf(before) >= 0) {
      announce(PAGE_TEXT.saved);
    }
  }

  function updateCounter(field) {
    if (!field || !field.id) return;
    const counter = document.querySelector('[data-counter-for="' + field.id + '"]');
    if (!counter) return;
    const max = parseInt(field.dataset.maxLength || "0", 10);
    counter.textContent = field.value.length + " / " + max;
    counter.classList.toggle("over", max > 0 && field.value.length > max);
  }

  // --- Retries ---------------------------------------------------------------------

  function scheduleRetry(saver, signedOut) {
    const state = stateOf(saver);
    state.attempts += 1;
    const base = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, state.attempts - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    window.clearTimeout(state.timer);
    state.timer = window.setTimeout(function () {
      state.timer = null;
      htmx.trigger(saver, "autosave-retry");
    }, delay);
    if (signedOut) setPhase(saver, "signed-out");
    else setPhase(saver, "retrying", "Not saved — retrying in " + Math.max(1, Math.round(delay / 1000)) + " s");
  }

  function retryAllNow() {
    document.querySelectorAll("[data-autosave-root] [data-autosave]").forEach(function (saver) {
      const state = stateOf(saver);
      if (state.timer) {
        window.clearTimeout(state.timer);
        state.timer = null;
        htmx.trigger(saver, "autosave-retry");
      }
    });
  }

  window.addEventListener("online", retryAllNow);

  // --- The server cannot be reached -------------------------------------------------
  // Any request that gets no answer (or a 5xx) shows the banner; the next answer hides it.
  // The pages poll, so the banner also goes once the server is back even if nobody types.
  const connection = {
    lost: function () {
      const banner = document.getElementById("connection-banner");
      if (banner) banner.hidden = false;  // role=alert: screen readers say it as it appears
    },
    back: function () {
      const banner = document.getElementById("connection-banner");
      if (banner && !banner.hidden) {
        banner.hidden = true;
        announce("The portal can be reached again.");
      }
    },
    // For requests made outside htmx (media.js's uploads): the HTTP status, 0 for none.
    answered: function (status) {
      if (!status || status >= 500) connection.lost();
      else connection.back();
    },
  };
  window.portalConnection = connection;

  document.addEventListener("htmx:sendError", connection.lost);
  document.addEventListener("htmx:timeout", connection.lost);
  document.addEventListener("htmx:afterRequest", function (event) {
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status) connection.answered(status);  // 0: sendError or timeout said it already
  });

  document.addEventListener("draft-saved", function (event) {
    const note = document.getElementById("draft-version-note");
    if (note && event.detail && event.detail.version) note.textContent = "Version " + event.detail.version + " · saved just now";
  });

  // --- htmx lifecycle of an autosave -------------------------------------------------

  document.addEventListener("htmx:confirm", function (event) {
    const saver = event.detail.elt;
    if (!isSaver(saver)) return;
    const state = stateOf(saver);
    if (state.conflict) {
      // Nothing is sent until the person chose between the two values.
      event.preventDefault();
      return;
    }
    if (state.unconfirmed.length === 0 && readValue(saver) === seenText(saver)) {
      // The server already holds exactly this.
      event.preventDefault();
      window.clearTimeout(state.timer);
      state.timer = null;
      state.attempts = 0;
      forget(saver);
      setPhase(saver, "saved");
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    // The CSRF cookie changes when someone signs in again (maybe in another tab); the
    // token written into the page at load would then be refused.
    const token = cookie("csrftoken");
    if (token) event.detail.headers["X-CSRFToken"] = token;
    const saver = event.detail.elt;
    if (!isSaver(saver)) return;
    const state = stateOf(saver);
    state.inflight = readValue(saver);
    state.unconfirmed.forEach(function (value) { event.detail.parameters.append("unconfirmed", value); });
    window.clearTimeout(state.timer);
    state.timer = null;
    if (state.phase === "retrying" || state.phase === "signed-out") return;
    setPhase(saver, "saving");
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    // detail.elt is the swap target here; the element that asked is in requestConfig.
    const source = event.detail.requestConfig ? event.detail.requestConfig.elt : null;
    if (isLoginReply(xhr) && !isLoginReply({ responseURL: window.location.href })) {
      // The session ended: never paint the sign-in page into a fragment.
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      if (!source || !rootOf(source)) {
        window.location.assign(loginPath() + "?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      }
      return;
    }
    if (isSaver(source) && (xhr.status === 409 || xhr.status === 422)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const saver = event.detail.elt;
    if (!isSaver(saver)) return;
    const state = stateOf(saver);
    const xhr = event.detail.xhr;
    const status = xhr ? xhr.status : 0;
    const sent = state.inflight;
    state.inflight = null;
    if (isLoginReply(xhr) || csrfRefused(xhr)) {
      // Signed out (or signed in again elsewhere): keep trying; a new sign-in lets it through.
      remember(saver);
      scheduleRetry(saver, true);
      return;
    }
    if (status >= 200 && status < 300) {
      state.attempts = 0;
      state.unconfirmed = [];
      if (readValue(saver) === sent) {
        forget(saver);
        setPhase(saver, "saved", false);
      } else {
        remember(saver);
        setPhase(saver, "unsaved");
      }
      return;
    }
    if (status === 409) {
      state.attempts = 0;
      state.conflict = true;
      remember(saver);
      setPhase(saver, "conflict", false);
      announce("Someone else changed this field. Choose which value to keep.");
      return;
    }
    if (status === 422) {
      state.attempts = 0;
      setPhase(saver, "invalid", false);
      const errors = stateBox(saver) && stateBox(saver).querySelector(".field-errors");
      announce("Not saved: " + (errors ? errors.textContent.trim() : "check the value"));
      return;
    }
    if (retryable(status)) {
      if (sent !== null && state.unconfirmed.indexOf(sent) < 0) {
        // It may have arrived and only the answer got lost.
        state.unconfirmed.push(sent);
        if (state.unconfirmed.length > MAX_UNCONFIRMED) state.unconfirmed.shift();
      }
      remember(saver);
      scheduleRetry(saver, false);
      return;
    }
    state.attempts = 0;
    setPhase(saver, "failed", status === 403 ? "Not saved: this draft can no longer be edited" : "Not saved (error " + status + ")");
  });

  // --- Typing, buttons, links ------------------------------------------------------

  document.addEventListener("change", function (event) {
    const choice = event.target.closest && event.target.closest("[data-multi-choice]");
    if (!choice) return;
    const saver = choice.closest(".multi-choice").querySelector("[data-multi]");
    if (!saver || !rootOf(saver)) return;
    saver.value = JSON.stringify(multiChoices(saver).filter(function (box) { return box.checked; }).map(function (box) { return box.value; }));
    remember(saver);
    if (!stateOf(saver).conflict) setPhase(saver, "unsaved");
    htmx.trigger(saver, "change");
  });

  document.addEventListener("input", function (event) {
    updateCounter(event.target);
    const saver = saverOf(event.target);
    if (!saver || !rootOf(saver)) return;
    const state = stateOf(saver);
    remember(saver);
    if (state.conflict || state.phase === "retrying" || state.phase === "signed-out") return;
    setPhase(saver, "unsaved");
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!rootOf(form)) return;
    const saver = form.matches("[data-autosave]") ? form : form.querySelector("[data-autosave]");
    if (!saver) return;
    // Enter in a field saves it now, in place, instead of posting the page.
    event.preventDefault();
    htmx.trigger(saver, "autosave-retry");
  });

  function resolveConflict(button, takeTheirs) {
    const box = button.closest(".save-state");
    const saver = box && saverOfBox(box);
    if (!saver) return;
    const state = stateOf(saver);
    state.conflict = false;
    state.unconfirmed = [];
    setPair(saver, button.dataset.version, button.dataset.theirs);
    const conflict = box.querySelector(".conflict");
    if (conflict) conflict.remove();
    if (takeTheirs) {
      writeValue(saver, button.dataset.theirs);
      forget(saver);
      setPhase(saver, "saved");
      announce("Kept their value.");
    } else {
      remember(saver);
      setPhase(saver, "unsaved");
      htmx.trigger(saver, "autosave-retry");
    }
    (isCustom(saver) ? saver.querySelector("input") : saver).focus();
  }

  // "... is required" under an empty field waits until the field was left (the page's CSS
  // hides .rule-missing in a field not yet touched); a wrong value shows at once.
  document.addEventListener("focusout", function (event) {
    const field = event.target.closest && event.target.closest("#editor .field");
    if (field) field.classList.add("is-touched");
  });

  document.addEventListener("click", function (event) {
    const target = event.target;
    const keep = target.closest("[data-keep-mine]");
    if (keep) return resolveConflict(keep, false);
    const take = target.closest("[data-take-theirs]");
    if (take) return resolveConflict(take, true);

    const add = target.closest("[data-cf-add]");
    if (add) {
      const form = add.closest("form");
      const row = newCustomRow(form, ["", "", ""]);
      form.querySelector("[data-cf-rows]").appendChild(row);
      row.querySelector("input").focus();
      return;
    }
    const remove = target.closest("[data-cf-remove]");
    if (remove) {
      const form = remove.closest("form");
      remove.closest(".cf-row").remove();
      if (!form.querySelector("[data-cf-rows] .cf-row")) form.querySelector("[data-cf-rows]").appendChild(newCustomRow(form, ["", "", ""]));
      remember(form);
      setPhase(form, "unsaved");
      htmx.trigger(form, "change");
      return;
    }
    const jump = target.closest("[data-focus-field]");
    if (jump) {
      const field = document.getElementById(jump.dataset.focusField);
      if (field) {
        event.preventDefault();
        field.scrollIntoView({ block: "center" });
        field.focus({ preventScroll: true });
      }
    }
  });

  // --- After a reload or a new sign-in: put back what was not confirmed ---------------

  const STORE_MAX_AGE_MS = 30 * 24 * 3600 * 1000;

  function dropStaleCopies() {
    if (!store) return;
    const now = Date.now();
    for (let index = store.length - 1; index >= 0; index -= 1) {
      const key = store.key(index);
      if (!key || key.indexOf(STORE_PREFIX) !== 0) continue;
      try {
        const record = JSON.parse(store.getItem(key));
        if (!record || !record.at || now - record.at > STORE_MAX_AGE_MS) store.removeItem(key);
      } catch (error) {
        store.removeItem(key);
      }
    }
  }

  function restorable(saver, value) {
    // A choice that is no longer offered (an agent who left, say) cannot be put back.
    if (saver.tagName !== "SELECT") return true;
    return Array.from(saver.options).some(function (option) { return option.value === value; });
  }

  function restore(root) {
    let restored = 0;
    root.querySelectorAll("[data-autosave]").forEach(function (saver) {
      const saved = recall(saver);
      if (!saved || typeof saved.value !== "string") return;
      if (saved.value === readValue(saver) || !restorable(saver, saved.value)) {
        forget(saver);
        return;
      }
      writeValue(saver, saved.value);
      setPair(saver, saved.version, saved.seen);
      stateOf(saver).unconfirmed = Array.isArray(saved.unconfirmed) ? saved.unconfirmed.slice(-MAX_UNCONFIRMED) : [];
      setPhase(saver, "unsaved", "Restored from this device — saving…");
      restored += 1;
      htmx.trigger(saver, "autosave-retry");
    });
    if (restored) announce("Restored " + restored + " unsaved change" + (restored === 1 ? "" : "s") + " from this device.");
  }

  htmx.onLoad(function (element) {
    if (!element.querySelectorAll) return;
    const roots = element.matches("[data-autosave-root]") ? [element] : element.querySelectorAll("[data-autosave-root]");
    if (roots.length) dropStaleCopies();
    roots.forEach(restore);
    element.querySelectorAll("[data-counter-for]").forEach(function (counter) {
      updateCounter(document.getElementById(counter.dataset.counterFor));
    });
  });

  if (!store) {
    // Without a local copy, leaving with unsaved text would lose it: ask first.
    window.addEventListener("beforeunload", function (event) {
      const pending = Array.from(document.querySelectorAll("[data-autosave-root] [data-autosave]")).some(function (saver) {
        return stateOf(saver).phase !== "saved";
      });
      if (pending) event.preventDefault();
    });
  }
})();

// Review comments and the inbox: the region that held the focus is replaced after a
// comment is added or resolved, so the server names (HX-Trigger `review-announce`) what to
// say and where the focus goes next.
(function () {
  "use strict";

  document.addEventListener("review-announce", function (event) {
    const detail = event.detail || {};
    const region = document.getElementById("live-region");
    if (region && detail.message) {
      region.textContent = "";
      window.setTimeout(function () { region.textContent = detail.message; }, 60);
    }
    const target = detail.focus ? document.getElementById(detail.focus) : null;
    if (target) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  });
})();

// The draft frame's tab bar scrolls sideways on a phone: bring the current tab into view
// (only the bar scrolls, not the page: block "nearest" leaves the vertical position alone).
(function () {
  "use strict";

  function showCurrentTab() {
    document.querySelectorAll("[data-tab-bar] [aria-current]").forEach(function (tab) {
      const bar = tab.closest("[data-tab-bar]");
      if (bar.scrollWidth <= bar.clientWidth) return;
      tab.scrollIntoView({ inline: "nearest", block: "nearest" });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showCurrentTab);
  else showCurrentTab();
})();
