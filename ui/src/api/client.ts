// The one typed API client. Types come from the server's OpenAPI document
// (`npm run api` regenerates them), so a changed route breaks the build, not the user.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

let csrfToken: string | null = null;

/** The session's CSRF token, echoed on every state-changing request. */
export function setCsrfToken(token: string | null | undefined) {
  csrfToken = token ?? null;
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (csrfToken && !["GET", "HEAD", "OPTIONS"].includes(request.method)) {
      request.headers.set("X-CSRF-Token", csrfToken);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(csrf);

/** An error the API answered with, as problem details. */
export class ApiProblem extends Error {
  constructor(public problem: Problem) {
    super(problem.detail);
  }
}

export function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "status" in value && "detail" in value;
}

/** Unwraps an openapi-fetch result: the data, or an ApiProblem thrown. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    const problem = isProblem(result.error)
      ? result.error
      : { type: "about:blank", title: result.response.statusText, status: result.response.status, detail: result.response.statusText, code: "http" };
    throw new ApiProblem(problem as Problem);
  }
  return result.data;
}

/** Same for responses without a body (204). */
export function ensureOk(result: { error?: unknown; response: Response }) {
  if (!result.response.ok) {
    unwrap({ ...result, data: undefined });
  }
}

/** Uploads a file with progress (fetch cannot report upload progress; XMLHttpRequest can). */
export function uploadImport(
  form: FormData,
  onProgress: (loaded: number, total: number) => void,
): Promise<Schemas["ImportTaskView"]> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/imports");
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total);
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 202) resolve(body as Schemas["ImportTaskView"]);
      else if (isProblem(body)) reject(new ApiProblem(body));
      else reject(new Error(`upload failed: HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new Error("upload failed: network error"));
    xhr.send(form);
  });
}

/** Posts a multipart form (a file with its options) with the session's CSRF token. */
export async function postForm<T>(url: string, form: FormData): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    body: form,
    credentials: "same-origin",
    headers: csrfToken ? { "X-CSRF-Token": csrfToken } : {},
  });
  const body: unknown = await response.json().catch(() => null);
  if (response.ok) return body as T;
  if (isProblem(body)) throw new ApiProblem(body);
  throw new Error(`upload failed: HTTP ${response.status}`);
}
