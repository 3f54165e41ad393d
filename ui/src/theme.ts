// The one Mantine theme: the brand colour and the sizes every page shares.
import { createTheme } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "indigo",
  // Darker shades of the primary colour in light mode keep white text on buttons at the
  // contrast WCAG AA asks for, in both themes (axe-core checks it in the browser tests).
  primaryShade: { light: 7, dark: 8 },
  defaultRadius: "md",
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  headings: { fontWeight: "650" },
  components: {
    Tooltip: { defaultProps: { withArrow: true, openDelay: 200 } },
  },
});
