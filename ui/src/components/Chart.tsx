// Charts are Apache ECharts: time series with axes, legends and tooltips, funnels and heat
// maps from one library, drawn as SVG (crisp, searchable, readable by screen readers
// through ECharts' generated aria description). Only the parts used are bundled, and this
// module loads lazily with the pages that chart.
import { useEffect, useRef } from "react";
import { useComputedColorScheme } from "@mantine/core";
import * as echarts from "echarts/core";
import { BarChart, FunnelChart, HeatmapChart, LineChart } from "echarts/charts";
import { AriaComponent, DataZoomComponent, GridComponent, LegendComponent, TooltipComponent, VisualMapComponent } from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

echarts.use([BarChart, FunnelChart, HeatmapChart, LineChart, AriaComponent, DataZoomComponent, GridComponent, LegendComponent, TooltipComponent, VisualMapComponent, SVGRenderer]);

export type ChartOption = echarts.EChartsCoreOption;

export default function Chart({ option, height = 280, label, testId }: { option: ChartOption; height?: number; label: string; testId?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const scheme = useComputedColorScheme("light");
  useEffect(() => {
    if (!box.current) return;
    const instance = echarts.init(box.current, scheme === "dark" ? "dark" : undefined, { renderer: "svg" });
    chart.current = instance;
    // Charts follow their box: the sidebar collapsing or a phone turning resizes them.
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(box.current);
    return () => {
      observer.disconnect();
      instance.dispose();
      chart.current = null;
    };
  }, [scheme]);
  useEffect(() => {
    chart.current?.setOption({ backgroundColor: "transparent", aria: { enabled: true }, animation: false, ...option }, true);
  }, [option, scheme]);
  return <div ref={box} role="img" aria-label={label} data-testid={testId} style={{ width: "100%", height }} />;
}
