import json
import uuid
import boto3
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)

queueName = 'test'
maxNumberOfMessages = 10

def lambda_handler(event, context):

    try:
        logger.info(event)
        responses = []

        queue = boto3.resource('sqs').get_queue_by_name(
            QueueName = queueName
        )

        messages = queue.receive_messages(
            MaxNumberOfMessages = maxNumberOfMessages
        )

        entries = []
        items = []
        for message in messages:
            entries.append({
                "Id": message.message_id,
                "ReceiptHandle": message.receipt_handle
            })
            items.append({
                "uuid": uuid.uuid1().urn,
                "key1": json.loads(message.body)['key1'],
                "key2": json.loads(message.body)['key2'],
                "key3": json.loads(message.body)['key3']
            })

        table = boto3.resource('dynamodb').Table('Test')
        with table.batch_writer() as batch:
            for item in items:
                batch.put_item(
                    Item = item
                )

        if len(entries) != 0:
            responses.append(
                queue.delete_messages(
                    Entries = entries
                )
            )

        logger.info(responses)
        return responses

    except Exception as e:
        logger.error(e)
        raise e
