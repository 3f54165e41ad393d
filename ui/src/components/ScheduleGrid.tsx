// A project's week as a weekday × hour grid: press on an hour and drag to paint calling
// windows (or to clear them, when the first hour pressed was painted). Each day also keeps
// its text field ("09:00-13:00, 14:30-18:00") for minutes and for keyboards; both edit the
// same text, and an empty day is a day off.
import { TextInput } from "@mantine/core";
import { useEffect, useState } from "react";
import { dayHours, hoursToText } from "../lib/schedule";
import { useI18n } from "../lib/i18n";

export function ScheduleGrid({ days, dayNames, onChange }: { days: string[]; dayNames: string[]; onChange: (days: string[]) => void }) {
  const { t } = useI18n();
  // The stroke being painted: what every hour it passes over becomes.
  const [paint, setPaint] = useState<boolean | null>(null);
  useEffect(() => {
    const stop = () => setPaint(null);
    window.addEventListener("pointerup", stop);
    return () => window.removeEventListener("pointerup", stop);
  }, []);
  const hours = days.map(dayHours);
  const set = (day: number, hour: number, on: boolean) => {
    if (hours[day][hour] === on) return;
    const next = [...hours[day]];
    next[hour] = on;
    onChange(days.map((text, i) => (i === day ? hoursToText(next) : text)));
  };
  return (
    <div className="schedule">
      {/* The grid is for pointers; the text fields beside it say the same for everyone. */}
      <div className="table-wrap" aria-hidden="true">
        <table className="schedule-grid" onPointerLeave={() => setPaint(null)}>
          <thead>
            <tr>
              <th />
              {Array.from({ length: 24 }, (_, h) => (
                <th key={h}>{h % 3 === 0 ? h : ""}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {hours.map((row, day) => (
              <tr key={day}>
                <th>{dayNames[day]}</th>
                {row.map((on, hour) => (
                  <td
                    key={hour}
                    data-on={on || undefined}
                    data-testid={`paint-${day + 1}-${hour}`}
                    onPointerDown={(e) => {
                      e.preventDefault();
                      // A touch captures the pointer to the cell it started on; released,
                      // the finger paints every cell it passes over, as a mouse does.
                      if (e.currentTarget.hasPointerCapture(e.pointerId)) e.currentTarget.releasePointerCapture(e.pointerId);
                      setPaint(!on);
                      set(day, hour, !on);
                    }}
                    onPointerEnter={() => paint !== null && set(day, hour, paint)}
                  />
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="schedule-days">
        {days.map((text, day) => (
          <TextInput
            key={day}
            label={dayNames[day]}
            aria-label={dayNames[day]}
            value={text}
            placeholder={t("dayOff")}
            onChange={(e) => onChange(days.map((x, i) => (i === day ? e.currentTarget.value : x)))}
          />
        ))}
      </div>
    </div>
  );
}
