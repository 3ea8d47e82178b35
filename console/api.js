// The console's only way to the server: the public API, with the session's bearer token held
// in this object's private field — never in localStorage, sessionStorage, a cookie or a URL.
// After its own commands it sends Keyledger-Min-Position (SPEC §10) on reads, so that any
// process of a cluster answers with what was just done.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `the server answered ${status}`);
    this.status = status;
    this.code = problem.code || "";
  }
}

// "p:o[,p:o…]" positions merged, keeping the furthest offset of each partition.
function mergePositions(a, b) {
  const furthest = new Map();
  for (const text of [a, b]) {
    for (const part of (text || "").split(",")) {
      const [partition, offset] = part.split(":");
      if (!/^\d+$/.test(partition || "") || !/^\d+$/.test(offset || "")) continue;
      const known = furthest.get(partition);
      if (known === undefined || BigInt(offset) > BigInt(known)) furthest.set(partition, offset);
    }
  }
  return [...furthest].map(([p, o]) => `${p}:${o}`).join(",");
}

export class Api {
  #token = null;
  #minPosition = "";

  constructor() {
    this.dashboard = "";
    this.email = "";
    this.role = "";
  }

  get loggedIn() { return this.#token !== null; }

  async login(dashboard, email, password) {
    const session = await this.#send("POST", "/v1/sessions", { dashboard_id: dashboard, email, password });
    this.#token = session.token;
    this.dashboard = dashboard;
    this.email = email;
    this.role = session.role;
    return session;
  }

  logout() {
    this.#token = null;
    this.#minPosition = "";
    this.dashboard = this.email = this.role = "";
  }

  // A route of the logged-in dashboard: "/email/keys" → "/v1/dashboards/{d}/email/keys".
  path(rest) { return `/v1/dashboards/${encodeURIComponent(this.dashboard)}${rest}`; }

  get(rest, query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== "" && value !== undefined && value !== null) params.set(name, value);
    }
    const search = params.toString();
    return this.#send("GET", this.path(rest) + (search ? `?${search}` : ""));
  }
  post(rest, body) { return this.#send("POST", this.path(rest), body === undefined ? {} : body); }
  patch(rest, body) { return this.#send("PATCH", this.path(rest), body); }
  del(rest) { return this.#send("DELETE", this.path(rest)); }

  async #send(method, url, body) {
    const headers = { Accept: "application/json" };
    if (this.#token !== null) headers.Authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method === "GET" && this.#minPosition) headers["Keyledger-Min-Position"] = this.#minPosition;
    const response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
    const position = response.headers.get("Keyledger-Position");
    if (method !== "GET" && position) this.#minPosition = mergePositions(this.#minPosition, position);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (response.status === 401 && this.#token !== null && url !== "/v1/sessions") {
      this.logout();
      window.dispatchEvent(new CustomEvent("keyledger:logged-out", { detail: (data && data.detail) || "" }));
    }
    if (!response.ok) throw new ApiError(response.status, data || {});
    return data;
  }
}
