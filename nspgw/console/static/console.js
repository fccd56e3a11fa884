// nspgw console: live refresh over server-sent events, the FLASH alarm sound, and the send preview.
// No libraries; works offline. Server-rendered pages stay usable without this script.
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.dataset.csrf || "";
  var audio = null, beeping = null;

  function beep() {
    try {
      if (!audio) { audio = new (window.AudioContext || window.webkitAudioContext)(); }
      if (audio.state === "suspended") { audio.resume(); showSoundButton(); return; }
      [0, 0.35].forEach(function (at) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.type = "square"; o.frequency.value = 1046;
        g.gain.value = 0.25;
        o.connect(g); g.connect(audio.destination);
        o.start(audio.currentTime + at); o.stop(audio.currentTime + at + 0.22);
      });
    } catch (e) { /* no audio device: the banner still shows */ }
  }
  function showSoundButton() {
    if (document.getElementById("sound-on")) { return; }
    var b = document.createElement("button");
    b.id = "sound-on"; b.className = "btn warn"; b.textContent = body.dataset.sound || "Sound";
    b.addEventListener("click", function () { if (audio) { audio.resume(); } b.remove(); beep(); });
    body.appendChild(b);
  }
  function alarmCheck() {
    var on = !!document.getElementById("alarm-banner");
    body.classList.toggle("alarming", on);
    if (on && !beeping) { beep(); beeping = setInterval(beep, 2000); }
    if (!on && beeping) { clearInterval(beeping); beeping = null; var b = document.getElementById("sound-on"); if (b) { b.remove(); } }
  }
  function refresh() {
    fetch(location.pathname + location.search, { headers: { "X-Partial": "1" }, credentials: "same-origin" })
      .then(function (r) { if (r.status === 401 || r.redirected) { location.reload(); return null; } return r.json(); })
      .then(function (d) {
        if (!d) { return; }
        var a = document.getElementById("alarm");
        var active = document.activeElement;
        var typing = active && a.contains(active) && active.tagName === "INPUT";
        if (!typing) { a.innerHTML = d.alarm; }
        if (d.main !== null && body.dataset.live === "1") {
          var m = document.getElementById("live");
          var busy = active && m.contains(active) && (active.tagName === "INPUT" || active.tagName === "TEXTAREA");
          if (!busy) { m.innerHTML = d.main; }
        }
        alarmCheck();
      }).catch(function () { /* the next event retries */ });
  }
  if (window.EventSource && csrf) {
    var last = null;
    var es = new EventSource("/events");
    es.onmessage = function (ev) {
      var d = JSON.parse(ev.data);
      if (last !== null && d.v !== last) { refresh(); }
      last = d.v;
    };
  }
  alarmCheck();

  var form = document.getElementById("send-form");
  if (form) {
    var out = document.getElementById("preview"), timer = null;
    var ask = function () {
      var data = new URLSearchParams(new FormData(form));
      fetch("/api/preview?kind=" + encodeURIComponent(form.dataset.kind), {
        method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
        .then(function (r) { return r.json(); })
        .then(function (d) { out.textContent = d.ok ? d.text : d.error; out.classList.toggle("bad", !d.ok); })
        .catch(function () {});
    };
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 300); });
    ask();
  }
})();
