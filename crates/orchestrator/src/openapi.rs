//! The OpenAPI 3 description of the REST API, served at `/openapi.json`.

use serde_json::{json, Value};

fn error_responses(codes: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    for code in codes {
        map.insert((*code).into(), json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }));
    }
    Value::Object(map)
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object()) {
        a.extend(b.clone());
    }
    a
}

/// The document.
pub fn document() -> Value {
    let manifest_body = json!({ "required": true, "content": {
        "application/yaml": { "schema": { "type": "string" } },
        "application/json": { "schema": { "type": "object" } } },
        "description": "An application manifest (docs/manifests.md). Every module needs `sha256` of a blob uploaded with PUT /v1/blobs." });
    let ok = |d: &str, schema: &str| json!({ "description": d, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let list = |d: &str, schema: &str| json!({ "description": d, "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": format!("#/components/schemas/{schema}") } } } } });
    let name = json!([{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let paged = json!([{ "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0 } },
                       { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 0 }, "description": "at most this many; the x-total-count header gives the full count" }]);
    json!({
        "openapi": "3.0.3",
        "info": { "title": "silverline Orchestrator", "version": "1", "description": "Deploy Wasm applications onto silverline Hosts." },
        "paths": {
            "/v1/apps": {
                "get": { "summary": "List applications", "parameters": paged.clone(), "responses": { "200": list("applications", "App") } },
                "post": { "summary": "Create an application", "requestBody": manifest_body,
                    "responses": merge(json!({ "201": ok("created and placed", "App") }), error_responses(&["400", "409", "422"])) }
            },
            "/v1/apps/{name}": {
                "parameters": name,
                "get": { "summary": "Get an application", "responses": merge(json!({ "200": ok("the application", "App") }), error_responses(&["404"])) },
                "put": { "summary": "Update an application: changed modules are staged as shadows (docs/update.md)", "requestBody": manifest_body,
                    "parameters": [
                        { "name": "switchover", "in": "query", "schema": { "type": "string", "enum": ["manual", "auto"] } },
                        { "name": "validate", "in": "query", "schema": { "type": "string", "example": "1s" } },
                        { "name": "keep", "in": "query", "schema": { "type": "string", "example": "5s" } } ],
                    "responses": merge(json!({ "200": ok("updated", "App") }), error_responses(&["400", "404", "422"])) },
                "delete": { "summary": "Delete an application", "responses": merge(json!({ "204": { "description": "deleted" } }), error_responses(&["404"])) }
            },
            "/v1/apps/{name}/modules/{module}/switchover": {
                "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } },
                               { "name": "module", "in": "path", "required": true, "schema": { "type": "string" } },
                               { "name": "back", "in": "query", "schema": { "type": "boolean" } },
                               { "name": "keep", "in": "query", "schema": { "type": "string", "example": "5s" } }],
                "post": { "summary": "Switch a module over to its staged shadow at an agreed activation index (or back)",
                    "responses": merge(json!({ "200": ok("switch scheduled", "App") }), error_responses(&["404", "409"])) }
            },
            "/v1/events": { "get": { "summary": "Server-Sent Events: recent history, then live events (docs/dashboard.md)",
                "parameters": [{ "name": "app", "in": "query", "schema": { "type": "string" } }, { "name": "follow", "in": "query", "schema": { "type": "boolean" } }],
                "responses": { "200": { "description": "event stream", "content": { "text/event-stream": {} } } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "text format 0.0.4", "content": { "text/plain": {} } } } } },
            "/v1/hosts": { "get": { "summary": "List Hosts with manifests and live status", "responses": { "200": list("hosts", "Host") } } },
            "/v1/hosts/{name}": { "parameters": name, "get": { "summary": "Get a Host", "responses": merge(json!({ "200": ok("the host", "Host") }), error_responses(&["404"])) } },
            "/v1/modules": { "get": { "summary": "List module instances with their profiles", "parameters": paged, "responses": { "200": list("modules", "Module") } } },
            "/v1/blobs": { "put": { "summary": "Upload a module's Wasm (binary)", "requestBody": { "required": true, "content": { "application/wasm": { "schema": { "type": "string", "format": "binary" } } } },
                "responses": merge(json!({ "201": { "description": "stored", "content": { "application/json": { "schema": { "type": "object", "properties": { "sha256": { "type": "string" }, "bytes": { "type": "integer" } } } } } } }), error_responses(&["400", "413", "507"])) } },
            "/v1/blobs/{sha256}": { "parameters": [{ "name": "sha256", "in": "path", "required": true, "schema": { "type": "string" } }],
                "get": { "summary": "Download a module's Wasm (Hosts fetch modules here)", "responses": merge(json!({ "200": { "description": "the module", "content": { "application/wasm": {} } } }), error_responses(&["404"])) } }
        },
        "components": { "schemas": {
            "Error": { "type": "object", "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string" }, "message": { "type": "string" }, "path": { "type": "string", "description": "field path in the manifest, e.g. modules[1].trigger.periodInNs" },
                "errors": { "type": "array", "items": { "type": "object" } } } } } },
            "App": { "type": "object", "required": ["name", "state", "modules"], "properties": {
                "name": { "type": "string" }, "state": { "type": "string", "enum": ["running", "deploying", "degraded", "pending"] },
                "generation": { "type": "integer" }, "modules": { "type": "array", "items": { "$ref": "#/components/schemas/Module" } }, "manifest": { "type": "object" } } },
            "Module": { "type": "object", "required": ["app", "module", "id", "state"], "properties": {
                "app": { "type": "string" }, "module": { "type": "string" }, "id": { "type": "string" }, "host": { "type": "string", "nullable": true },
                "sha256": { "type": "string" }, "state": { "type": "string" },
                "role": { "type": "string", "enum": ["primary", "shadow", "previous"] }, "would_send": { "type": "integer" },
                "took_over_at": { "type": "integer", "nullable": true }, "problem": { "type": "string", "nullable": true }, "profile": { "type": "object", "nullable": true } } },
            "Host": { "type": "object", "required": ["name", "online"], "properties": {
                "name": { "type": "string" }, "online": { "type": "boolean" }, "manifest": { "type": "object" }, "platform": { "type": "object" },
                "last_seen_ms": { "type": "integer" }, "resources": { "type": "object", "nullable": true },
                "modules": { "type": "array", "items": { "type": "object" } }, "assigned": { "type": "array", "items": { "type": "string" } } } }
        } }
    })
}
