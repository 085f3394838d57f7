// The MUSHRA page's behaviour (inlined into listen/index.html by codecstudy.listen.page).
// State lives in localStorage under one key per test (its trial-list hash) and is written after every action, so
// a reload or a closed tab resumes where the listener was. The export is the state plus the test's identity.
(function () {
  'use strict';
  var TEST = JSON.parse(document.getElementById('test-data').textContent);
  var KEY = 'codecstudy-mushra/' + TEST.trials_hash;
  var $ = function (id) { return document.getElementById(id); };
  var state = load();
  var players = {};      // condition -> <audio> of the trial on screen
  var current = null;    // condition playing or last selected
  var previous = null;   // the one before it (A/B switching)
  var shownAt = 0;

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)) || null; } catch (e) { return null; }
  }
  function save() {
    if (state) { localStorage.setItem(KEY, JSON.stringify(state)); }
    document.body.dataset.saved = String(Date.now());
  }

  // --- per-listener order: a seeded shuffle (FNV-1a of "seed:listener" into mulberry32)
  function hash32(text) {
    var h = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
    return h >>> 0;
  }
  function rng(seed) {
    var a = seed >>> 0;
    return function () {
      a = (a + 0x6D2B79F5) >>> 0; var t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function shuffled(items, random) {
    var out = items.slice();
    for (var i = out.length - 1; i > 0; i--) { var j = Math.floor(random() * (i + 1)); var t = out[i]; out[i] = out[j]; out[j] = t; }
    return out;
  }

  function newSession(id, languages) {
    var orderSeed = TEST.seed + ':' + id;
    var random = rng(hash32(orderSeed));
    var order = shuffled(TEST.trials.map(function (t) { return t.id; }), random);
    var slots = {};
    TEST.trials.forEach(function (t) { slots[t.id] = shuffled(Object.keys(t.stimuli).sort(), random); });
    return {
      listener: { id: id, languages: languages }, order_seed: orderSeed, order: order, slots: slots,
      ratings: {}, touched: {}, played: {}, seconds: {}, index: 0,
      session: Math.random().toString(36).slice(2, 10) + Date.now().toString(36),
      started: new Date().toISOString(), finished: null
    };
  }

  function trialById(id) { return TEST.trials.filter(function (t) { return t.id === id; })[0]; }
  function currentTrial() { return trialById(state.order[state.index]); }

  // --- screens
  function show(screen) {
    document.body.dataset.screen = screen;
    if (screen === 'trial') { renderTrial(); }
    if (screen === 'done') { stopAll(); }
  }

  function start() {
    var id = $('listener-id').value.trim();
    var languages = Array.prototype.filter.call(document.querySelectorAll('input.lang'), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
    $('other-languages').value.split(/[,\s]+/).forEach(function (l) { if (l && languages.indexOf(l) < 0) { languages.push(l); } });
    if (!id) { $('welcome-status').textContent = 'Please enter your name or listener id.'; return; }
    if (!languages.length) { $('welcome-status').textContent = 'Please tick or type the languages you speak.'; return; }
    state = newSession(id, languages);
    save();
    show('trial');
  }

  function stopAll() {
    Object.keys(players).forEach(function (c) { players[c].pause(); });
    markPlaying();
  }

  function renderTrial() {
    stopAll();
    players = {}; current = null; previous = null; shownAt = Date.now();
    var trial = currentTrial();
    var what = trial.language ? trial.domain + ', ' + trial.language : trial.domain;
    $('trial-title').textContent = 'Trial ' + (state.index + 1) + ' of ' + state.order.length + ' (' + what + ')';
    document.body.dataset.trial = trial.id;
    document.body.dataset.trialIndex = String(state.index);
    var box = $('stimuli');
    box.innerHTML = '';
    $('players').innerHTML = '';
    players.__reference__ = makeAudio(trial.reference, 'R');
    var ratings = state.ratings[trial.id] || (state.ratings[trial.id] = {});
    var touched = state.touched[trial.id] || (state.touched[trial.id] = {});
    state.slots[trial.id].forEach(function (condition, k) {
      players[condition] = makeAudio(trial.stimuli[condition], String(k + 1));
      var button = document.createElement('button');
      button.textContent = 'Play ' + (k + 1);
      button.className = 'play';
      button.dataset.slot = String(k + 1);
      button.addEventListener('click', function () { select(condition); });
      var slider = document.createElement('input');
      slider.type = 'range'; slider.min = '0'; slider.max = '100'; slider.step = '1';
      slider.className = 'rating' + (touched[condition] ? '' : ' untouched');
      slider.dataset.slot = String(k + 1);
      slider.setAttribute('aria-label', 'rating of stimulus ' + (k + 1));
      slider.value = String(ratings[condition] !== undefined ? ratings[condition] : 0);
      var value = document.createElement('span');
      value.className = 'value'; value.textContent = touched[condition] ? slider.value : '-';
      slider.addEventListener('input', function () { rate(condition, Number(slider.value)); });
      slider.addEventListener('pointerdown', function () { if (current !== condition) { select(condition); } });
      box.appendChild(button); box.appendChild(slider); box.appendChild(value);
      button._slider = slider; button._value = value; players[condition]._button = button;
    });
    $('prev').disabled = state.index === 0;
    $('next').textContent = state.index === state.order.length - 1 ? 'Finish (N)' : 'Next (N)';
    setLoop($('loop').checked);
    markPlaying();
    updateStatus();
    save();
  }

  function makeAudio(src, slot) {
    var a = document.createElement('audio');
    a.preload = 'auto'; a.src = src; a.loop = $('loop').checked; a.dataset.slot = slot;
    $('players').appendChild(a);
    a.addEventListener('play', markPlaying); a.addEventListener('pause', markPlaying);
    a.addEventListener('ended', markPlaying);
    return a;
  }

  function rate(condition, value) {
    var trial = currentTrial();
    state.ratings[trial.id][condition] = Math.max(0, Math.min(100, Math.round(value)));
    state.touched[trial.id][condition] = true;
    var button = players[condition]._button;
    button._slider.value = String(state.ratings[trial.id][condition]);
    button._slider.classList.remove('untouched');
    button._value.textContent = button._slider.value;
    save(); updateStatus();
  }

  // Play one condition; whatever was playing stops, and the new one continues at the same position (switching).
  function select(condition) {
    var trial = currentTrial();
    var next = condition === 'reference-button' ? players.__reference__ : players[condition];
    var key = condition === 'reference-button' ? '__reference__' : condition;
    var from = current ? players[current] : null;
    var position = from && !from.paused ? from.currentTime : (from ? from.currentTime : 0);
    Object.keys(players).forEach(function (c) { if (c !== key) { players[c].pause(); } });
    if (isFinite(next.duration) && position < next.duration) { next.currentTime = position; } else if (position) { next.currentTime = 0; }
    var playing = next.play();
    if (playing && playing.catch) { playing.catch(function () {}); }
    if (key !== current) { previous = current; current = key; }
    if (key !== '__reference__') {
      var played = state.played[trial.id] || (state.played[trial.id] = []);
      if (played.indexOf(key) < 0) { played.push(key); }
    }
    save(); markPlaying(); updateStatus();
  }

  function togglePlay() {
    if (!current) { select('reference-button'); return; }
    var a = players[current];
    if (a.paused) { select(current === '__reference__' ? 'reference-button' : current); } else { a.pause(); markPlaying(); }
  }

  function setLoop(on) {
    $('loop').checked = on;
    Object.keys(players).forEach(function (c) { players[c].loop = on; });
  }

  function markPlaying() {
    var names = [];
    Object.keys(players).forEach(function (c) {
      var a = players[c]; var on = !a.paused && !a.ended;
      if (on) { names.push(c === '__reference__' ? 'reference' : 'stimulus ' + a._button.dataset.slot); }
      if (a._button) {
        a._button.classList.toggle('playing', on);
        a._button.classList.toggle('played', (state.played[currentTrial().id] || []).indexOf(c) >= 0);
      }
    });
    $('play-ref').classList.toggle('playing', names.indexOf('reference') >= 0);
    $('now-playing').textContent = names.length ? 'playing: ' + names.join(', ') : '';
    document.body.dataset.playing = names.join(',');
  }

  function missing() {
    var trial = currentTrial();
    var played = state.played[trial.id] || [], touched = state.touched[trial.id] || {};
    var out = [];
    state.slots[trial.id].forEach(function (c, k) {
      if (played.indexOf(c) < 0) { out.push('play ' + (k + 1)); }
      if (!touched[c]) { out.push('rate ' + (k + 1)); }
    });
    return out;
  }

  function updateStatus() {
    var todo = missing();
    $('trial-status').textContent = todo.length ? 'Still to do: ' + todo.join(', ') : '';
    document.body.dataset.complete = String(todo.length === 0);
  }

  function leaveTrial() {
    var id = currentTrial().id;
    state.seconds[id] = (state.seconds[id] || 0) + (Date.now() - shownAt) / 1000;
  }

  function next() {
    if (missing().length) { updateStatus(); return; }
    leaveTrial();
    if (state.index < state.order.length - 1) { state.index++; save(); renderTrial(); return; }
    state.finished = state.finished || new Date().toISOString();
    save(); show('done');
  }

  function prev() {
    if (state.index === 0) { return; }
    leaveTrial(); state.index--; save(); renderTrial();
  }

  function complete() {
    return state.order.every(function (id) {
      var t = state.touched[id] || {};
      return state.slots[id].every(function (c) { return t[c]; });
    });
  }

  function exportData() {
    return {
      format: TEST.format, version: TEST.version, codecstudy: TEST.codecstudy, study: TEST.study,
      trials_hash: TEST.trials_hash, trials: TEST.trials, listener: state.listener,
      session: {
        id: state.session, started: state.started, finished: state.finished,
        complete: Boolean(state.finished) && complete(), order_seed: state.order_seed,
        user_agent: navigator.userAgent, exported: new Date().toISOString()
      },
      ratings: state.order.map(function (id, k) {
        return { trial: id, position: k + 1, order: state.slots[id], scores: state.ratings[id] || {},
          seconds: Math.round((state.seconds[id] || 0) * 10) / 10 };
      })
    };
  }

  function download() {
    var text = JSON.stringify(exportData(), null, 1);
    var blob = new Blob([text], { type: 'application/json' });
    var a = document.createElement('a');
    var safe = state.listener.id.replace(/[^A-Za-z0-9_-]+/g, '_');
    a.href = URL.createObjectURL(blob);
    a.download = 'mushra-' + TEST.study.name + '-' + safe + '.json';
    document.body.appendChild(a); a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    document.body.dataset.exported = a.download;
  }

  document.addEventListener('keydown', function (e) {
    if (document.body.dataset.screen !== 'trial' || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var key = e.key;
    var target = e.target;
    if (target && target.type === 'range' && key.indexOf('Arrow') === 0) { return; }  // the slider moves itself
    if (target && (target.tagName === 'BUTTON' || target.type === 'checkbox')) { target.blur(); }
    if (key >= '1' && key <= '9') {
      var condition = state.slots[currentTrial().id][Number(key) - 1];
      if (condition) { select(condition); }
    } else if (key === 'r' || key === 'R') { select('reference-button');
    } else if (key === ' ') { togglePlay();
    } else if (key === 'l' || key === 'L') { setLoop(!$('loop').checked);
    } else if (key === 'x' || key === 'X') { if (previous) { select(previous === '__reference__' ? 'reference-button' : previous); }
    } else if (key === 'n' || key === 'N' || key === 'Enter') { next();
    } else if (key === 'p' || key === 'P') { prev();
    } else if ((key === 'ArrowUp' || key === 'ArrowDown') && current && current !== '__reference__') {
      var step = (e.shiftKey ? 10 : 1) * (key === 'ArrowUp' ? 1 : -1);
      var now = state.ratings[currentTrial().id][current];
      rate(current, (now === undefined ? 0 : now) + step);
    } else { return; }
    e.preventDefault();
  });

  $('start').addEventListener('click', start);
  $('play-ref').addEventListener('click', function () { select('reference-button'); });
  $('stop').addEventListener('click', stopAll);
  $('loop').addEventListener('change', function () { setLoop($('loop').checked); });
  $('next').addEventListener('click', next);
  $('prev').addEventListener('click', prev);
  $('export').addEventListener('click', download);
  $('back').addEventListener('click', function () { state.index = 0; save(); show('trial'); });
  $('new-listener').addEventListener('click', function () {
    if (!window.confirm('Start a new listener? Save this listener\'s ratings first.')) { return; }
    localStorage.removeItem(KEY); state = null; $('listener-id').value = ''; show('welcome');
  });

  if (state && state.listener) { show(state.finished ? 'done' : 'trial'); } else { show('welcome'); }
  document.body.dataset.ready = 'true';
})();
