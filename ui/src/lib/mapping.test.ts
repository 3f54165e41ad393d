import { describe, expect, it } from "vitest";
import { formatMapping, parseMapping } from "./mapping";

describe("column mapping", () => {
  it("reads the server's spec and writes it back the same", () => {
    const spec = "phone=3,geo=Region";
    expect(parseMapping(spec)).toEqual([
      { field: "phone", column: "3" },
      { field: "geo", column: "Region" },
    ]);
    expect(formatMapping(parseMapping(spec))).toBe(spec);
  });

  it("drops unknown fields, blank columns and keeps the last row of a field", () => {
    expect(parseMapping("colour=2,phone=,name=Name")).toEqual([{ field: "name", column: "Name" }]);
    expect(
      formatMapping([
        { field: "phone", column: "1" },
        { field: "phone", column: " 4 " },
        { field: "geo", column: "" },
      ]),
    ).toBe("phone=4");
  });

  it("keeps a header name containing '=' and strips commas that would split the spec", () => {
    expect(parseMapping("phone=a=b")).toEqual([{ field: "phone", column: "a=b" }]);
    expect(formatMapping([{ field: "name", column: "Last, First" }])).toBe("name=Last First");
  });
});
