//! `GET /admin/v1/openapi.json`: the admin API's OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` annotations and the response types' `ToSchema` derives, so it
//! changes with the code. Endpoints whose answer is free-form JSON describe it in words.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api;
use crate::store::console::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Natter admin API",
        description = "The bot team's API: conversations, action and handler runs, Run Test, overview. \
            Authenticate with `Authorization: Bearer <NATTER_ADMIN_TOKEN>`, or (the console) the \
            `natter_console` session cookie plus `X-CSRF-Token` on state-changing requests. \
            Errors are `{\"error\": {\"code\", \"message\"}}`. See docs/console.md."
    ),
    paths(
        api::list, api::detail, api::events, api::bots, api::stats,
        api::action_definition, api::handler_definition,
        crate::actions::admin::list, crate::actions::admin::run_test,
        crate::actions::admin::runs, crate::actions::admin::thread,
        crate::lifecycle::admin::list, crate::lifecycle::admin::test,
        crate::lifecycle::admin::runs, crate::lifecycle::admin::outbox,
    ),
    components(schemas(
        ConversationPage, ConversationSummary, StatusCounts, BotStats, FeedbackStats,
        CategoryCount, Failing, OutboxStats, DayCounts, FeedbackRow, TimelineEvent,
    )),
    modifiers(&Security),
    security(("bearer" = []), ("session" = []))
)]
pub struct AdminApi;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::session::COOKIE))),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(AdminApi::openapi())
}
