// The live listing's photo gallery: a thumbnail shows its photo above; the big photo opens a
// larger view (a <dialog>: Esc closes it, the arrow keys and buttons move between photos).
// Without this script every thumbnail and the big photo are plain links to the larger picture.
(function () {
  "use strict";

  function setUp(gallery) {
    var thumbs = Array.prototype.slice.call(gallery.querySelectorAll("[data-gallery-thumb]"));
    var main = gallery.querySelector("[data-gallery-main]");
    var opener = gallery.querySelector("[data-gallery-open]");
    var caption = gallery.querySelector("[data-gallery-caption]");
    var dialog = gallery.querySelector("[data-gallery-lightbox]");
    if (!thumbs.length || !main || !opener || !dialog) return;
    var lightImage = dialog.querySelector("[data-lightbox-image]");
    var lightCaption = dialog.querySelector("[data-lightbox-caption]");
    var current = 0;

    function show(index) {
      current = (index + thumbs.length) % thumbs.length;
      var thumb = thumbs[current];
      main.src = thumb.dataset.medium;
      main.alt = thumb.querySelector("img").alt;
      opener.href = thumb.href;
      caption.textContent = thumb.dataset.caption;
      thumbs.forEach(function (other) { other.removeAttribute("aria-current"); });
      thumb.setAttribute("aria-current", "true");
      if (dialog.open) {
        lightImage.src = thumb.href;
        lightImage.alt = main.alt;
        lightCaption.textContent = thumb.dataset.caption;
      }
    }

    thumbs.forEach(function (thumb, index) {
      thumb.addEventListener("click", function (event) {
        event.preventDefault();
        show(index);
      });
    });
    opener.addEventListener("click", function (event) {
      event.preventDefault();
      dialog.showModal();
      show(current);
      dialog.querySelector("[data-lightbox-close]").focus();
    });
    dialog.querySelector("[data-lightbox-close]").addEventListener("click", function () { dialog.close(); });
    dialog.querySelector("[data-lightbox-previous]").addEventListener("click", function () { show(current - 1); });
    dialog.querySelector("[data-lightbox-next]").addEventListener("click", function () { show(current + 1); });
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "ArrowLeft") { event.preventDefault(); show(current - 1); }
      if (event.key === "ArrowRight") { event.preventDefault(); show(current + 1); }
    });
    // A click on the dark backdrop (the dialog itself, not its content) closes it.
    dialog.addEventListener("click", function (event) { if (event.target === dialog) dialog.close(); });
    dialog.addEventListener("close", function () { thumbs[current].focus(); });
  }

  function start() {
    document.querySelectorAll("[data-gallery]").forEach(setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
