// Charts drawn by Chart.js (Debian's node-chart.js), only the parts used registered so the
// bundle carries no more of it than it needs.
import { useEffect, useRef } from "react";
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import type { DeploymentView, UsageView } from "@api";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);

const OUTCOME_COLOURS: Record<string, string> = {
  success: "#2f8f4e",
  failed: "#c0392b",
  cancelled: "#8a94a6",
  rolled_back: "#d68910",
};

function seconds(d: DeploymentView): number {
  if (!d.startedAt || !d.finishedAt) {
    return 0;
  }
  return Math.max(0, (d.finishedAt.getTime() - d.startedAt.getTime()) / 1000);
}

/** How long each ended deployment took, oldest on the left, coloured by how it ended. */
export function DurationsChart(props: { deployments: DeploymentView[] }): JSX.Element {
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const ended = props.deployments.filter((d) => d.finishedAt && d.startedAt).reverse();
  const key = ended.map((d) => `${d.id}:${d.status}`).join(",");
  useEffect(() => {
    if (canvas.current === null) {
      return;
    }
    const chart = new Chart(canvas.current, {
      type: "bar",
      data: {
        labels: ended.map((d) => d.createdAt.toLocaleString()),
        datasets: [
          {
            label: "seconds",
            data: ended.map(seconds),
            backgroundColor: ended.map((d) => OUTCOME_COLOURS[d.status] ?? "#3b6fd8"),
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { ticks: { display: false } }, y: { beginAtZero: true, title: { display: true, text: "seconds" } } },
        plugins: {
          tooltip: { callbacks: { afterLabel: (item) => ended[item.dataIndex]?.status ?? "" } },
        },
      },
    });
    return () => chart.destroy();
    // `key` names what the chart shows: it is drawn again when that changes.
  }, [key]);
  const failed = ended.filter((d) => d.status !== "success").length;
  return (
    <figure className="chart">
      <div className="chart-box">
        <canvas ref={canvas} role="img" aria-label={`Durations of the last ${ended.length} deployments; ${failed} did not succeed`} />
      </div>
      <figcaption className="hint">
        How long each deployment took; green succeeded, red failed, grey cancelled.
      </figcaption>
    </figure>
  );
}

const REPLICA_COLOURS = ["#3b6fd8", "#2f8f4e", "#d68910", "#8e44ad", "#c0392b", "#16a085"];

/** One line per replica (by slot) of `value` over the samples, oldest on the left. */
export function UsageChart(props: {
  samples: UsageView[];
  label: string;
  unit: string;
  value: (r: UsageView["replicas"][number]) => number;
}): JSX.Element {
  const { samples, label, unit, value } = props;
  const canvas = useRef<HTMLCanvasElement | null>(null);
  const chart = useRef<Chart | null>(null);
  useEffect(() => {
    if (canvas.current === null) {
      return;
    }
    chart.current = new Chart(canvas.current, {
      type: "line",
      data: { labels: [], datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { ticks: { maxTicksLimit: 6 } }, y: { beginAtZero: true, title: { display: true, text: unit } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
    return () => chart.current?.destroy();
  }, [unit]);
  useEffect(() => {
    const c = chart.current;
    if (c === null) {
      return;
    }
    const slots = [...new Set(samples.flatMap((s) => s.replicas.map((r) => r.slot ?? 0)))].sort((a, b) => a - b);
    c.data.labels = samples.map((s) => s.at.toLocaleTimeString());
    c.data.datasets = slots.map((slot, i) => ({
      label: `replica ${slot}`,
      data: samples.map((s) => {
        const r = s.replicas.find((x) => (x.slot ?? 0) === slot);
        return r === undefined ? null : value(r);
      }),
      borderColor: REPLICA_COLOURS[i % REPLICA_COLOURS.length],
      backgroundColor: REPLICA_COLOURS[i % REPLICA_COLOURS.length],
      pointRadius: 2,
      spanGaps: false,
    }));
    c.update();
  }, [samples, value]);
  const last = samples[samples.length - 1];
  const now = last === undefined ? "no sample yet" : last.replicas.map((r) => `replica ${r.slot ?? 0}: ${value(r).toFixed(1)} ${unit}`).join(", ");
  return (
    <figure className="chart">
      <div className="chart-box">
        <canvas ref={canvas} role="img" aria-label={`${label} over time; now ${now}`} />
      </div>
      <figcaption className="hint">
        {label}: {now}
      </figcaption>
    </figure>
  );
}
