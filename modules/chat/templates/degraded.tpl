{
  "version": "1.0",
  "source": "custom",
  "id": <eventId>,
  "content": {
    "textType": "client-markdown",
    "title": ":rotating_light: <count> devices down in <groupBy> <group>",
    "description": "A connectivity storm opened: *<count>* devices of <groupBy> *<group>* disconnected within the storm window.\n*Storm:* <stormId>\n*Since (epoch ms):* <since>\nThe devices (the first 100) are this notification's related resources.",
    "nextSteps": [
      "Every device still down: `connectivity list --status Disconnected`",
      "Look for a cause the group shares: its site's network or power, its broker, a rollout"
    ],
    "keywords": ["device-connectivity", "storm", "degraded"]
  },
  "metadata": {
    "threadId": <stormId>,
    "summary": "<count> devices down in <groupBy> <group>",
    "eventType": "Fleet Connectivity Degraded",
    "relatedResources": <clientIds>,
    "additionalContext": {
      "stormId": <stormId>,
      "groupBy": <groupBy>,
      "group": <group>,
      "eventId": <eventId>,
      "sequence": "<sequence>",
      "disconnectedCount": "<count>",
      "time": <time>,
      "account": <account>,
      "region": <region>
    }
  }
}
