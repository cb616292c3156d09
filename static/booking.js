// On the prospect's booking pages: show the times in the browser's own time zone on the first
// visit (the page reads ?tz=), unless the person already picked one. Without script the page
// works all the same, with its zone select.
(function () {
  var select = document.getElementById("tz");
  if (!select || new URLSearchParams(window.location.search).has("tz")) return;
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || zone === select.dataset.current) return;
  var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
  if (!known) return;
  var url = new URL(window.location.href);
  url.searchParams.set("tz", zone);
  window.location.replace(url.toString());
})();
