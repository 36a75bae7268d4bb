import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ErrorResponseDto } from './common/error-response.dto.js';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Baton')
    .setDescription(
      'Durable multi-agent orchestration on PostgreSQL. Authenticate with `POST /auth/login` and send ' +
        '`Authorization: Bearer <token>` (a JWT or an API key). Every error answers `{ statusCode, error, message, details? }`. ' +
        'The event streams are also served over a WebSocket at `/orchestrations/ws` (not describable here; see docs/sse.md).',
    )
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT or API key', description: 'JWT from /auth/login, or an API key `bk_...`' }, 'bearer')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The Prometheus scrape token of BATON_METRICS_TOKEN (GET /metrics only)' }, 'metrics-token')
    .build();
  return SwaggerModule.createDocument(app, config, { extraModels: [ErrorResponseDto] });
}

/** Swagger UI at /docs and the document at /docs-json (both public). */
export function setupSwagger(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', yamlDocumentUrl: 'docs-yaml' });
  return document;
}
