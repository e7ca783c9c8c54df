// A small line chart on a canvas: a rolling window of samples per series,
// redrawn on every push. Enough for live rates without a chart library.

export class Chart {
  constructor(canvas, series, { points = 120, format = String } = {}) {
    this.canvas = canvas;
    this.series = series; // [{name, color}]
    this.points = points;
    this.format = format;
    this.data = series.map(() => []);
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  // load replaces the series' samples (oldest first), as when a page
  // starts from the server's history.
  load(data) {
    this.data = this.series.map((_, i) => (data[i] || []).slice(-this.points));
    this.draw();
  }

  push(...values) {
    values.forEach((v, i) => {
      const d = this.data[i];
      d.push(v);
      if (d.length > this.points) d.shift();
    });
    this.draw();
  }

  draw() {
    const c = this.canvas;
    // How many points are drawn, for tests that cannot read the canvas.
    c.dataset.points = String(this.data[0].length);
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, hgt = c.clientHeight;
    if (!w || !hgt) return;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const max = Math.max(1, ...this.data.flat());
    const pad = 4, top = 14;
    g.strokeStyle = 'rgba(128,128,128,.25)';
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + (hgt - top - pad) * i / 4;
      g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    }
    g.fillStyle = 'rgba(128,128,128,.9)';
    g.font = '11px system-ui, sans-serif';
    g.fillText(this.format(max), 4, 11);
    this.series.forEach((s, i) => {
      const d = this.data[i];
      if (d.length < 2) return;
      g.strokeStyle = s.color;
      g.lineWidth = 2;
      g.beginPath();
      d.forEach((v, j) => {
        const x = w - (d.length - 1 - j) * (w / (this.points - 1));
        const y = hgt - pad - (hgt - top - pad) * v / max;
        if (j === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    });
  }
}
