"""Every GraphQL document Clientele sends to Shopify, in one place (Admin API 2025-01 + extensions).

`ShopifyClient.execute` only sends documents registered in `DOCUMENTS` (by name or exact text),
so a test can validate all of them, and the texts of the bulk queries in `BULK_QUERIES`, against
Shopify's schema (`tenants.shopify.schema.validation_errors`). To send something new, add it here.
"""

from functools import cache

from graphql import OperationType, parse
from graphql.language import OperationDefinitionNode

# --- fragments (appended to the documents that use them) -----------------------------------

CUSTOMER_FIELDS_FRAGMENT = """
fragment CustomerFields on Customer {
  id
  legacyResourceId
  firstName
  lastName
  displayName
  note
  tags
  state
  verifiedEmail
  taxExempt
  locale
  numberOfOrders
  amountSpent { amount currencyCode }
  createdAt
  updatedAt
  defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
  defaultPhoneNumber {
    phoneNumber marketingState marketingOptInLevel marketingUpdatedAt marketingCollectedFrom
  }
  defaultAddress { id }
  addresses {
    id firstName lastName company address1 address2 city province provinceCode
    country countryCodeV2 zip phone
  }
  lastOrder { id createdAt }
  mergeable { isMergeable errorFields reason mergeInProgress { jobId status } }
}
"""

# --- shop ------------------------------------------------------------------------------------

SHOP_INFO = """
query ShopInfo {
  shop {
    id
    name
    myshopifyDomain
    currencyCode
    ianaTimezone
    billingAddress { countryCodeV2 }
    customerAccountsV2 { customerAccountsVersion }
  }
}
"""

# --- customers -------------------------------------------------------------------------------

# Deltas: `query` is a search like "updated_at:>='2025-05-01T00:00:00Z'"; sorting by UPDATED_AT is
# what Shopify recommends for updated_at ranges (unsorted ranges can time out on big shops).
CUSTOMERS_UPDATED_PAGE = (
    """
query CustomersUpdatedPage($query: String!, $first: Int!, $after: String) {
  customers(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes { ...CustomerFields }
  }
}
"""
    + CUSTOMER_FIELDS_FRAGMENT
)

CUSTOMER_BY_ID = (
    """
query CustomerById($id: ID!) {
  customer(id: $id) { ...CustomerFields }
}
"""
    + CUSTOMER_FIELDS_FRAGMENT
)

# --- orders ----------------------------------------------------------------------------------

# Webhook order payloads carry product ids but not product tags; the mirror re-reads the order.
ORDER_BY_ID = """
query OrderById($id: ID!) {
  order(id: $id) {
    id legacyResourceId name createdAt updatedAt processedAt cancelledAt test
    displayFinancialStatus
    customer { id }
    currentTotalPriceSet { shopMoney { amount currencyCode } }
    lineItems(first: 100) { nodes { id quantity product { id tags } } }
  }
}
"""

# Order deltas: the same fields as ORDER_BY_ID, oldest change first (sortKey UPDATED_AT).
ORDERS_UPDATED_PAGE = """
query OrdersUpdatedPage($query: String!, $first: Int!, $after: String) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id legacyResourceId name createdAt updatedAt processedAt cancelledAt test
      displayFinancialStatus
      customer { id }
      currentTotalPriceSet { shopMoney { amount currencyCode } }
      lineItems(first: 100) { nodes { id quantity product { id tags } } }
    }
  }
}
"""

# --- bulk operations -------------------------------------------------------------------------

# Bulk query texts (the `query` argument of bulkOperationRunQuery, not sent as documents).
# Nested connections come back as separate JSONL lines carrying "__parentId".
BULK_CUSTOMERS_QUERY = """
{
  customers {
    edges {
      node {
        id legacyResourceId firstName lastName displayName note tags state verifiedEmail
        taxExempt locale numberOfOrders createdAt updatedAt
        amountSpent { amount currencyCode }
        defaultEmailAddress { emailAddress marketingState marketingOptInLevel marketingUpdatedAt }
        defaultPhoneNumber {
          phoneNumber marketingState marketingOptInLevel marketingUpdatedAt marketingCollectedFrom
        }
        defaultAddress { id }
        statistics { predictedSpendTier }
        mergeable { isMergeable errorFields }
        addressesV2 {
          edges {
            node {
              id firstName lastName company address1 address2 city province provinceCode
              country countryCodeV2 zip phone
            }
          }
        }
      }
    }
  }
}
"""

BULK_ORDERS_QUERY = """
{
  orders {
    edges {
      node {
        id legacyResourceId name email createdAt updatedAt processedAt cancelledAt test
        displayFinancialStatus
        customer { id }
        currentTotalPriceSet { shopMoney { amount currencyCode } }
        lineItems {
          edges {
            node {
              id quantity sku title
              product { id tags productType vendor }
              originalUnitPriceSet { shopMoney { amount currencyCode } }
            }
          }
        }
      }
    }
  }
}
"""

BULK_OPERATION_RUN_QUERY = """
mutation BulkOperationRunQuery($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

BULK_OPERATION_FIELDS_FRAGMENT = """
fragment BulkOperationFields on BulkOperation {
  id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt
}
"""

# 2025-01 has no `bulkOperation(id:)` yet: read a known operation through `node`.
BULK_OPERATION_BY_ID = (
    """
query BulkOperationById($id: ID!) {
  node(id: $id) { ...BulkOperationFields }
}
"""
    + BULK_OPERATION_FIELDS_FRAGMENT
)

CURRENT_BULK_QUERY_OPERATION = (
    """
query CurrentBulkQueryOperation {
  currentBulkOperation(type: QUERY) { ...BulkOperationFields }
}
"""
    + BULK_OPERATION_FIELDS_FRAGMENT
)

# --- webhooks --------------------------------------------------------------------------------

WEBHOOK_SUBSCRIPTIONS_PAGE = """
query WebhookSubscriptionsPage($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      topic
      endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } }
    }
  }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $callbackUrl: URL!) {
  webhookSubscriptionCreate(
    topic: $topic
    webhookSubscription: {callbackUrl: $callbackUrl, format: JSON}
  ) {
    webhookSubscription { id topic }
    userErrors { field message }
  }
}
"""

WEBHOOK_SUBSCRIPTION_DELETE = """
mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
"""

# --- tags ------------------------------------------------------------------------------------

TAGS_ADD = """
mutation TagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

TAGS_REMOVE = """
mutation TagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

# --- merges ----------------------------------------------------------------------------------

CUSTOMER_MERGE_PREVIEW = """
query CustomerMergePreview(
  $one: ID!, $two: ID!, $overrideFields: CustomerMergeOverrideFields
) {
  customerMergePreview(customerOneId: $one, customerTwoId: $two, overrideFields: $overrideFields) {
    resultingCustomerId
    customerMergeErrors { errorFields message }
    blockingFields { note tags }
    defaultFields {
      firstName lastName displayName note tags
      email { emailAddress marketingState }
      phoneNumber { phoneNumber marketingState }
      defaultAddress { id address1 city countryCodeV2 zip }
      addresses(first: 50) { nodes { id } }
      orders(first: 1) { nodes { id } }
      draftOrderCount giftCardCount discountNodeCount metafieldCount
    }
    alternateFields {
      firstName lastName
      email { emailAddress }
      phoneNumber { phoneNumber }
      defaultAddress { id address1 city }
    }
  }
}
"""

CUSTOMER_MERGE = """
mutation CustomerMerge($one: ID!, $two: ID!, $overrideFields: CustomerMergeOverrideFields) {
  customerMerge(customerOneId: $one, customerTwoId: $two, overrideFields: $overrideFields) {
    resultingCustomerId
    job { id done }
    userErrors { code field message }
  }
}
"""

CUSTOMER_MERGE_JOB_STATUS = """
query CustomerMergeJobStatus($jobId: ID!) {
  customerMergeJobStatus(jobId: $jobId) {
    jobId
    status
    resultingCustomerId
    customerMergeErrors { errorFields message }
  }
}
"""

# --- customer accounts -----------------------------------------------------------------------

CUSTOMER_SEND_ACCOUNT_INVITE = """
mutation CustomerSendAccountInvite($customerId: ID!, $email: EmailInput) {
  customerSendAccountInviteEmail(customerId: $customerId, email: $email) {
    customer { id state }
    userErrors { code field message }
  }
}
"""

# --- registries ------------------------------------------------------------------------------

DOCUMENTS: dict[str, str] = {
    "SHOP_INFO": SHOP_INFO,
    "CUSTOMERS_UPDATED_PAGE": CUSTOMERS_UPDATED_PAGE,
    "CUSTOMER_BY_ID": CUSTOMER_BY_ID,
    "ORDER_BY_ID": ORDER_BY_ID,
    "ORDERS_UPDATED_PAGE": ORDERS_UPDATED_PAGE,
    "BULK_OPERATION_RUN_QUERY": BULK_OPERATION_RUN_QUERY,
    "BULK_OPERATION_BY_ID": BULK_OPERATION_BY_ID,
    "CURRENT_BULK_QUERY_OPERATION": CURRENT_BULK_QUERY_OPERATION,
    "WEBHOOK_SUBSCRIPTIONS_PAGE": WEBHOOK_SUBSCRIPTIONS_PAGE,
    "WEBHOOK_SUBSCRIPTION_CREATE": WEBHOOK_SUBSCRIPTION_CREATE,
    "WEBHOOK_SUBSCRIPTION_DELETE": WEBHOOK_SUBSCRIPTION_DELETE,
    "TAGS_ADD": TAGS_ADD,
    "TAGS_REMOVE": TAGS_REMOVE,
    "CUSTOMER_MERGE_PREVIEW": CUSTOMER_MERGE_PREVIEW,
    "CUSTOMER_MERGE": CUSTOMER_MERGE,
    "CUSTOMER_MERGE_JOB_STATUS": CUSTOMER_MERGE_JOB_STATUS,
    "CUSTOMER_SEND_ACCOUNT_INVITE": CUSTOMER_SEND_ACCOUNT_INVITE,
}

BULK_QUERIES: dict[str, str] = {
    "BULK_CUSTOMERS_QUERY": BULK_CUSTOMERS_QUERY,
    "BULK_ORDERS_QUERY": BULK_ORDERS_QUERY,
}

FRAGMENTS = ("CUSTOMER_FIELDS_FRAGMENT", "BULK_OPERATION_FIELDS_FRAGMENT")

_NAME_BY_TEXT = {text: name for name, text in DOCUMENTS.items()}


def resolve(document: str) -> tuple[str, str]:
    """(name, text) of a registered document given its name or its exact text."""
    if document in DOCUMENTS:
        return document, DOCUMENTS[document]
    if document in _NAME_BY_TEXT:
        return _NAME_BY_TEXT[document], document
    raise ValueError(
        "not a registered Shopify document; add it to tenants/shopify/documents.py "
        f"(got {document[:60]!r})"
    )


@cache
def is_mutation(name: str) -> bool:
    operations = [
        definition
        for definition in parse(DOCUMENTS[name]).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    return any(operation.operation is OperationType.MUTATION for operation in operations)
