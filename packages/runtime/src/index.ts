export type { AccessToken, AccessTokenFileOptions, TokenCheck } from "./access-tokens.js";
export {
  AccessTokenFile,
  AccessTokens,
  AuthErrorCode,
  accessTokenHash,
  loadAccessTokens,
  newAccessToken,
} from "./access-tokens.js";
export type { HttpErrorOptions } from "./http-error.js";
export { HttpError, HttpErrorCode } from "./http-error.js";
export type { ErrorBody } from "./json-response.js";
export { sendError, sendJson } from "./json-response.js";
export type { ReadBodyOptions } from "./read-body.js";
export { DEFAULT_MAX_BODY_BYTES, readBody, readJson } from "./read-body.js";
export type { Route, RouteHandler, RouteParams } from "./router.js";
export type { RunningService, RunServiceOptions } from "./run-service.js";
export { runService } from "./run-service.js";
export type { ServiceHttp, ServiceHttpOptions } from "./service-http.js";
export { createServiceHttp } from "./service-http.js";
