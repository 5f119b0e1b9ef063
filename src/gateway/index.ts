/** The IPFS Trustless Gateway every Cairn copy serves: the handler, its Fastify mount, its errors. */
export { GatewayError, type GatewayErrorCode, notHere } from "./errors.ts";
export { type GatewayRequest, type GatewayResponse, PROBE_CID, serveGateway } from "./handler.ts";
export { CAR_TYPE, RAW_TYPE } from "./negotiate.ts";
export { registerGateway } from "./routes.ts";
