import math
import boto3
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)

queueName = 'test'
arn = 'arn:aws:sns:ap-northeast-1:000000000000:test'

def lambda_handler(event, context):

    try:
        logger.info(event)
        responses = []

        numberOfMessages = boto3.resource('sqs').get_queue_by_name(
            QueueName = queueName
        ).attributes['ApproximateNumberOfMessages']
        numberOfPublish = int(math.ceil(float(numberOfMessages) / 10))

        for i in range(numberOfPublish):
            responses.append(
                boto3.resource('sns').Topic(arn).publish(
                    Message = 'test'
                )
            )

        logger.info(responses)
        return responses

    except Exception as e:
        logger.error(e)
        raise e
